"""SQL of ``MetricsStore.metrics_snapshot``: a mixin of ``SQLStore`` (shared by both stores).

Every statement is an aggregate over an index the engine already keeps
(``tw_runs (state, due_at)``, ``(schedule_id, state)``, ``finished_at`` for the last minutes
only) or over the small tables (schedules, health, workers, kept counts); nothing here
locks or writes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, false, func, select
from sqlalchemy.engine import Connection

from tickwork.model import TERMINAL_STATES, RunState, WorkerInfo
from tickwork.store.schema import (
    off_index,
    run_counts,
    runs,
    schedule_health,
    schedules,
    workers,
)
from tickwork.store.snapshot import ScheduleStatus, SystemSnapshot

__all__ = ["SQLMetricsQueries"]

_TERMINAL = frozenset(s.value for s in TERMINAL_STATES)
_UNFINISHED = (RunState.queued, RunState.retrying, RunState.running)
_WAITING = (RunState.queued.value, RunState.retrying.value)
RECENT = timedelta(minutes=10)  # finished runs the monitor may not have recorded yet


class SQLMetricsQueries:
    """``metrics_snapshot`` for ``SQLStore`` (which provides ``_transaction``)."""

    _transaction: Any  # SQLStore._transaction(action, *, write) -> context of a Connection

    def metrics_snapshot(self, now: datetime) -> SystemSnapshot:
        """Counts and instants for the metrics in one read transaction; writes nothing.
        Raises ``StoreUnavailableError`` when the database cannot be read."""
        if now.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass aware UTC instants")
        transaction: AbstractContextManager[Connection] = self._transaction(
            "read the metrics", write=False
        )
        with transaction as conn:
            names = dict(conn.execute(select(schedules.c.id, schedules.c.name)).all())
            finished = _finished(conn, names)
            unfinished, due = _unfinished(conn, now)
            statuses = tuple(_schedules(conn, names, now))
            found = conn.execute(select(workers).order_by(workers.c.id)).mappings()
            infos = tuple(WorkerInfo(**dict(r)) for r in found)
        return SystemSnapshot(now, finished, unfinished, due, statuses, infos)


def _finished(conn: Connection, names: dict[int, str]) -> dict[tuple[str, RunState], int]:
    counts: dict[tuple[str, RunState], int] = {}
    # Every state, grouped as the (schedule_id, state) index is ordered: a scan of that index
    # alone (no table reads, no sort); a WHERE on state would make the planner pick the
    # (state, due_at) index and read every row (8x slower at 10^5 runs on SQLite).
    live = select(runs.c.schedule_id, runs.c.state, func.count()).group_by(
        runs.c.schedule_id, runs.c.state
    )
    for schedule_id, state, n in conn.execute(live):
        if state in _TERMINAL:
            key = (names[schedule_id], RunState(state))
            counts[key] = counts.get(key, 0) + int(n)
    kept = select(run_counts.c.schedule, run_counts.c.state, run_counts.c.count)
    for schedule, state, n in conn.execute(kept):
        key = (schedule, RunState(state))
        counts[key] = counts.get(key, 0) + int(n)
    return counts


def _unfinished(conn: Connection, now: datetime) -> tuple[dict[RunState, int], int]:
    due_now = case((runs.c.state.in_(_WAITING) & (runs.c.due_at <= now), 1), else_=0)
    stmt = (
        select(runs.c.state, func.count(), func.coalesce(func.sum(due_now), 0))
        .where(runs.c.state.in_([s.value for s in _UNFINISHED]))
        .group_by(runs.c.state)
    )
    counts = dict.fromkeys(_UNFINISHED, 0)
    due = 0
    for state, n, due_n in conn.execute(stmt):
        counts[RunState(state)] = int(n)
        due += int(due_n)
    return counts, due


def _schedules(conn: Connection, names: dict[int, str], now: datetime) -> Iterator[ScheduleStatus]:
    # The last success health tracking keeps (the monitor records finished runs within
    # seconds; it survives pruning), and the newest among the runs that finished in the last
    # RECENT, which the monitor may not have recorded yet; the later of the two counts. Not
    # the newest in the whole history: that read every succeeded run on every scrape (0.7 s
    # with a million runs, and the history grows without end). Only finished_at's term may
    # use an index: SQLite grouped along the unique index, reading every run, rather than
    # sort the few recent ones.
    dialect = conn.dialect.name
    schedule_id = off_index(runs.c.schedule_id, dialect)
    newest = (
        select(schedule_id, func.max(runs.c.finished_at).label("at"))
        .where(
            runs.c.finished_at > now - RECENT,
            off_index(runs.c.state, dialect) == RunState.succeeded.value,
        )
        .group_by(schedule_id)
    )
    succeeded = {names[schedule_id]: at for schedule_id, at in conn.execute(newest)}
    stmt = (
        select(
            schedules.c.name,
            schedules.c.paused,
            schedule_health.c.last_success_at,
            schedule_health.c.overdue_since,
        )
        .select_from(
            schedules.outerjoin(schedule_health, schedule_health.c.schedule_id == schedules.c.id)
        )
        .where(schedules.c.retired == false())
        .order_by(schedules.c.name)
    )
    for name, paused, kept_success, overdue_since in conn.execute(stmt):
        last = max(
            (at for at in (succeeded.get(name), kept_success) if at is not None), default=None
        )
        yield ScheduleStatus(name, bool(paused), last, overdue_since)
