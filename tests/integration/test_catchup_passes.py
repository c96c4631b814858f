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


def test_a_start_up_with_nothing_changed_leaves_the_catch_up_to_the_loop(
    make_tw: Callable[..., Tickwork], clock: FakeClock
) -> None:
    tw = make_tw()
    tw.add_schedule(name="tick", cron="* * * * * *", command="true")
    tw.sync()
    clock.advance(DOWN)

    again = make_tw()  # the same definitions, after the downtime
    again.add_schedule(name="tick", cron="* * * * * *", command="true")
    again.sync()

    assert runs_of(again, "tick") == []  # the loop's passes record them, worker running


def test_a_definition_changed_during_downtime_accounts_for_every_old_fire_first(
    make_tw: Callable[..., Tickwork], clock: FakeClock
) -> None:
    names = [f"s{i}" for i in range(8)]  # 4,800 fires due: three passes (fire_limit 2,000)
    tw = make_tw()
    for name in names:
        tw.add_schedule(name=name, cron="* * * * * *", command="true")
    tw.sync()
    clock.advance(DOWN)

    again = make_tw()
    for name in names:
        cron = "0 * * * * *" if name == "s7" else "* * * * * *"  # s7 now fires each minute
        again.add_schedule(name=name, cron=cron, command="true")
    again.sync()

    for name in names:  # every fire of the old definitions is accounted for
        fires = [r.nominal_fire for r in runs_of(again, name)]
        assert len(fires) == 600
        assert fires[-1] == T0 + DOWN
    changed = again.store.get_schedule("s7")
    assert changed is not None
    assert changed.next_fire_at == T0 + DOWN + timedelta(minutes=1)
