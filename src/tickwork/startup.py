"""Checks a process passes before it starts its loops (or opens a port): shadow mode is
only safe on a database of its own (docs/changes.md, "Shadow mode").

A shadow process claims runs like any worker and records them ``shadowed``: on the
database of a live deployment it would take real runs and the real tasks would never
run. So a shadow process registers the extra role ``shadow`` and refuses to start while
an alive live worker is registered; a live worker starting beside alive shadow workers
is warned. Alive is judged as ``tickwork workers`` does: a heartbeat within the lease.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from tickwork.errors import NotPermittedError
from tickwork.model import WorkerInfo

SHADOW_ROLE = "shadow"
WORKER_ROLE = "worker"


def roles_of(info: WorkerInfo) -> set[str]:
    return {r for r in info.roles.split(",") if r}


def alive_workers(
    workers: Iterable[WorkerInfo], now: datetime, lease: timedelta, *, exclude: str
) -> list[WorkerInfo]:
    """The other registered processes with the worker role whose heartbeat is within the
    lease (the processes that claim runs now)."""
    return [
        w
        for w in workers
        if w.id != exclude and WORKER_ROLE in roles_of(w) and now - w.heartbeat_at <= lease
    ]


def shadow_conflicts(
    workers: Sequence[WorkerInfo], *, shadow: bool, now: datetime, lease: timedelta, me: str
) -> list[WorkerInfo]:
    """For a shadow process: raise ``NotPermittedError`` when an alive live worker is
    registered. For a live one: the alive shadow workers (to warn about; they take its
    runs)."""
    alive = alive_workers(workers, now, lease, exclude=me)
    shadows = [w for w in alive if SHADOW_ROLE in roles_of(w)]
    if not shadow:
        return shadows
    live = [w for w in alive if SHADOW_ROLE not in roles_of(w)]
    if live:
        raise NotPermittedError(
            f"shadow mode refused: live worker{'s' if len(live) != 1 else ''} "
            f"{describe(live)} {'are' if len(live) != 1 else 'is'} registered and alive on "
            "this database; a shadow process would claim their runs and record them "
            "shadowed, so the real tasks would not run",
            "a staging database of its own for shadow mode (point database_url or "
            "TICKWORK_DATABASE_URL at it), or drop --shadow / TICKWORK_SHADOW",
            field="shadow",
            got=[f"{w.host}:{w.pid}" for w in live],
        )
    return []


def describe(workers: Iterable[WorkerInfo]) -> str:
    return ", ".join(f"{w.host}:{w.pid} ({w.id}, roles {w.roles})" for w in workers)
