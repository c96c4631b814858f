"""A scheduler pass that found nothing due learns when the next fire is and skips the store
until then, except after a schedule change it hears of and at least every ``recheck`` (how
soon another process's change is seen). On the fake clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from tickwork.app import Tickwork
from tickwork.scheduler import Scheduler
from tickwork.store.base import EnqueueResult, FirePlanner
from tickwork.testing import FakeClock

from .conftest import T0, runs_of

SECOND = timedelta(seconds=1)


def test_passes_are_skipped_until_the_next_fire_or_a_change(
    make_tw: Callable[..., Tickwork], clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    tw = make_tw()
    tw.add_schedule(name="minutely", every="1m", command="true")
    tw.sync()
    engine = tw.engine()
    scheduler = engine.scheduler
    assert scheduler is not None
    passes: list[datetime] = []
    enqueue_due = tw.store.enqueue_due

    def counting(now: datetime, limit: int, plan: FirePlanner, **kw: Any) -> EnqueueResult:
        passes.append(now)
        return enqueue_due(now, limit, plan, **kw)

    monkeypatch.setattr(tw.store, "enqueue_due", counting)
    first = scheduler.run_once(clock.now())
    assert first.idle_until == T0 + timedelta(minutes=1)
    clock.advance(timedelta(milliseconds=300))
    assert scheduler.run_once(clock.now()).idle_until == T0 + timedelta(minutes=1)
    assert len(passes) == 1  # skipped: nothing can be due yet

    clock.advance(SECOND)  # past recheck (1 s): another process may have changed something
    scheduler.run_once(clock.now())
    assert len(passes) == 2

    tw.add_schedule(name="now", at=(clock.now() - SECOND).isoformat(), command="true")
    tw.sync()  # a change this process makes: the engine hears of it (wake)
    before = len(passes)  # (the sync's own pass, before it stores the change, counted too)
    assert len(scheduler.run_once(clock.now()).queued) == 1
    assert len(passes) == before + 1
    assert [r.schedule for r in runs_of(tw, "now")] == ["now"]

    scheduler.run_once(clock.now())  # nothing more due: learns the next fire again
    before = len(passes)
    clock.advance(timedelta(minutes=1) - timedelta(milliseconds=1300))  # the next fire
    assert [r.schedule for r in scheduler.run_once(clock.now()).queued] == ["minutely"]
    assert len(passes) == before + 1


def test_the_next_fire_is_looked_at_on_time_however_long_the_recheck(
    make_tw: Callable[..., Tickwork], clock: FakeClock
) -> None:
    tw = make_tw()
    tw.add_schedule(name="minutely", every="1m", command="true")
    tw.sync()
    scheduler = Scheduler(tw.store, recheck=timedelta(hours=1))
    assert scheduler.run_once(clock.now()).idle_until == T0 + timedelta(minutes=1)
    clock.advance(timedelta(minutes=1))
    assert [r.schedule for r in scheduler.run_once(clock.now()).queued] == ["minutely"]


def test_a_change_announced_during_a_pass_is_not_lost_by_what_it_learnt(
    make_tw: Callable[..., Tickwork], clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    tw = make_tw()
    tw.add_schedule(name="minutely", every="1m", command="true")
    tw.sync()
    scheduler = Scheduler(tw.store, recheck=timedelta(hours=1))
    enqueue_due = tw.store.enqueue_due

    def racing(now: datetime, limit: int, plan: FirePlanner, **kw: Any) -> EnqueueResult:
        result = enqueue_due(now, limit, plan, **kw)  # read before the change below
        scheduler.schedules_changed()  # another thread changed a schedule meanwhile
        return result

    monkeypatch.setattr(tw.store, "enqueue_due", racing)
    scheduler.run_once(clock.now())
    passes: list[datetime] = []  # the next pass looks: it does not trust what was read
    monkeypatch.setattr(
        tw.store,
        "enqueue_due",
        lambda now, limit, plan, **kw: passes.append(now) or enqueue_due(now, limit, plan, **kw),
    )
    scheduler.run_once(clock.now())
    assert passes == [clock.now()]
