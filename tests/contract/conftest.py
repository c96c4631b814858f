"""The store contract suite: every test runs against every store implementation.

A backend is a way to get a fresh, empty database URL for one test: a SQLite file in the
test's directory, or a schema of its own on the PostgreSQL at ``TICKWORK_TEST_POSTGRES_URL``
(``postgres_url`` in ``tests/conftest.py``: dropped afterwards; an unreachable server fails
the tests when ``TICKWORK_REQUIRE_POSTGRES`` is set, as on CI, and skips them otherwise).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tickwork.model import Run, RunState, ScheduleRow
from tickwork.store import Store, open_store
from tickwork.store.base import FireDecision, FirePlanner, RunFilter, ScheduleUpsert

T0 = datetime(2026, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
LEASE = timedelta(seconds=30)


@dataclass(frozen=True)
class Backend:
    name: str
    url: str

    def open(self) -> Store:
        """A new store (own engine, own connections) on this backend's database."""
        return open_store(self.url)


def _sqlite(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return Backend("sqlite", f"sqlite:///{tmp_path / 'tickwork.db'}")


def _postgres(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return Backend("postgres", request.getfixturevalue("postgres_url"))


BACKENDS: dict[str, Callable[[pytest.FixtureRequest, Path], Backend]] = {
    "sqlite": _sqlite,
    "postgres": _postgres,
}


@pytest.fixture(params=list(BACKENDS), ids=list(BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return BACKENDS[request.param](request, tmp_path)


@pytest.fixture
def store(backend: Backend) -> Iterator[Store]:
    opened = backend.open()
    try:
        opened.upgrade()
        yield opened
    finally:
        opened.close()


# -- building states through the public interface ------------------------------------------


def add_schedule(
    store: Store,
    name: str = "job",
    *,
    next_fire_at: datetime | None = T0,
    source: str = "code",
    now: datetime = T0,
    **spec: Any,
) -> ScheduleRow:
    """Add (or redefine) one schedule of ``source``, keeping that source's other schedules."""
    others = [
        ScheduleUpsert(s.name, s.spec, s.next_fire_at, s.anchor)
        for s in store.list_schedules()
        if s.source == source and s.name != name
    ]
    spec = {"cron": "* * * * *", **spec}
    store.sync_schedules(
        [*others, ScheduleUpsert(name, spec, next_fire_at, anchor=T0)], source, now
    )
    row = store.get_schedule(name)
    assert row is not None
    return row


def minutely(row: ScheduleRow, now: datetime) -> FireDecision:
    """A planner for a schedule firing every minute on the minute: every fire up to ``now``
    is queued (due at its nominal instant) while active and skipped while paused."""
    assert row.next_fire_at is not None
    fires = []
    fire = row.next_fire_at
    while fire <= now:
        fires.append(fire)
        fire += MINUTE
    if row.paused:
        return FireDecision(skip=fires, next_fire_at=fire, last_fire_at=fires[-1], reason="paused")
    return FireDecision(
        queue=[(f, f) for f in fires],
        next_fire_at=fire,
        last_fire_at=fires[-1],
        max_attempts=int(row.spec.get("retries", 0)) + 1,
    )


def deciding(decision: FireDecision) -> FirePlanner:
    """A planner that returns ``decision`` for every schedule."""
    return lambda row, now: decision


def fires(store: Store, name: str, upto: datetime) -> list[Run]:
    """Queue the minutely fires of ``name`` up to ``upto``; the runs created, oldest first."""
    result = store.enqueue_due(upto, 1000, minutely)
    return sorted((r for r in result.queued if r.schedule == name), key=lambda r: r.nominal_fire)


def runs_of(store: Store, name: str | None = None) -> list[Run]:
    """Every run (of ``name``), oldest id first."""
    return sorted(store.list_runs(RunFilter(schedule=name, limit=100_000)), key=lambda r: r.id)


def state_of(store: Store, run: Run) -> RunState:
    found = store.get_run(run.id)
    assert found is not None
    return found.state


def event_names(store: Store, run: Run) -> list[str]:
    return [e.event for e in store.run_events(run.id)]


def count_statements(store: Store) -> Callable[[], int]:
    """Start counting the SQL statements ``store`` sends; the returned function says how
    many so far (a cost that must not grow with what is stored)."""
    from sqlalchemy import event

    engine = store._engine  # type: ignore[attr-defined]  # both stores are SQLStores
    sent = [0]

    def count(*_args: Any) -> None:
        sent[0] += 1

    event.listen(engine, "before_cursor_execute", count)
    return lambda: sent[0]
