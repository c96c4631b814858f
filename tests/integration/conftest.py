from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tickwork.app import Tickwork
from tickwork.model import Run, RunState
from tickwork.store.base import RunFilter
from tickwork.testing import FakeClock

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def make_tw(tmp_path: Path, clock: FakeClock) -> Iterator[Callable[..., Tickwork]]:
    made: list[Tickwork] = []

    def make(**kwargs: object) -> Tickwork:
        kwargs.setdefault("database_url", f"sqlite:///{tmp_path / 'tw.db'}")
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("worker_id", f"worker-{len(made)}")
        tw = Tickwork(**kwargs)  # type: ignore[arg-type]
        made.append(tw)
        return tw

    yield make
    for tw in made:
        tw.close()


@pytest.fixture
def tw(make_tw: Callable[..., Tickwork]) -> Tickwork:
    return make_tw()


def runs_of(tw: Tickwork, schedule: str) -> list[Run]:
    """Runs of a schedule, oldest first."""
    return sorted(
        tw.store.list_runs(RunFilter(schedule=schedule, limit=10_000)),
        key=lambda r: (r.nominal_fire, r.id),
    )


def table(runs: list[Run]) -> list[tuple[str, str, int]]:
    """(nominal fire ISO, state, attempt) rows: what engine tests assert exactly."""
    return [(r.nominal_fire.isoformat(), r.state.value, r.attempt) for r in runs]


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``condition`` until true: for work on real threads (a task, a slot hand-off),
    never for a schedule (the fake clock drives those); ``timeout`` is a safety net."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(0.005)


__all__ = ["T0", "RunState", "runs_of", "table", "wait_for"]
