"""A long catch-up (every-second schedules back after ten minutes down) is many short
scheduler passes with the worker's step between them, not one transaction that holds the
store (SQLite: its write lock) for every missed fire at once. On the fake clock."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta

from tickwork.app import Tickwork
from tickwork.context import TaskContext
from tickwork.model import RunState
from tickwork.testing import FakeClock

from .conftest import T0, runs_of

DOWN = timedelta(minutes=10)  # 600 fires of each every-second schedule


def test_a_long_catch_up_is_short_passes_and_the_worker_runs_between_them(
    make_tw: Callable[..., Tickwork], clock: FakeClock
) -> None:
    ran: list[str] = []
    tw = make_tw(concurrency=8)

    @tw.task(name="tick")
    def tick(context: TaskContext) -> None:
        ran.append(context.schedule)

    names = [f"s{i}" for i in range(4)]
    for name in names:
        tw.add_schedule(name=name, task="tick", cron="* * * * * *", overlap="skip")
    tw.sync()
    clock.advance(DOWN)  # nobody ran meanwhile
    engine = tw.engine()
    assert engine.scheduler is not None
    assert engine.worker is not None
    engine.scheduler.fire_limit = 700  # a pass takes one schedule's 600 fires, not two

    engine.run_once(clock.now())
    engine.worker.wait_idle(10)

    caught_up = [n for n in names if runs_of(tw, n)]
    assert len(caught_up) == 1  # one schedule's fires in the first pass ...
    assert ran == caught_up  # ... and its run started in the same iteration
    for _ in range(3):
        engine.run_once(clock.now())
        engine.worker.wait_idle(10)
    assert sorted(ran) == names  # one pass each
    for name in names:
        states = Counter(r.state for r in runs_of(tw, name))
        # Every fire accounted for: older than misfire_grace (1 min) missed; the on-time
        # minute (61 fires) queued, the oldest of it run, the rest skipped behind it.
        assert states == {RunState.missed: 539, RunState.succeeded: 1, RunState.skipped: 60}
        row = tw.store.get_schedule(name)
        assert row is not None
        assert row.next_fire_at == T0 + DOWN + timedelta(seconds=1)
