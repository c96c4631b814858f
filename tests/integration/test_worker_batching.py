"""The worker's batching: results written together (group commit), claims that wait a few
milliseconds for more free slots. On the fake clock; real timeouts are safety nets only."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import pytest

from tickwork.app import Tickwork
from tickwork.errors import StoreUnavailableError
from tickwork.model import ClaimedRun, RunState
from tickwork.store.base import FinishItem
from tickwork.testing import FakeClock
from tickwork.worker import CLAIM_COALESCE, SKIP_RECHECK

from .conftest import T0, runs_of, wait_for

MINUTE = timedelta(minutes=1)


def test_results_handed_over_are_written_with_the_next_claim_in_one_transaction(
    make_tw: Callable[..., Tickwork], clock: FakeClock
) -> None:
    tw = make_tw(concurrency=8)
    for i in range(8):
        tw.add_schedule(name=f"s{i}", every="1m", command="true")
    tw.add_schedule(name="later", every="1m", command="true", start_at="2026-03-02T12:01:00.001Z")
    tw.sync()
    engine = tw.engine()
    worker, scheduler = engine.worker, engine.scheduler
    assert worker is not None
    assert scheduler is not None
    calls: list[tuple[int, int]] = []  # (results, claim limit) per write
    store = worker._batching
    assert store is not None
    finish_and_claim = store.finish_and_claim

    def counting(
        w: str, now: datetime, items: Sequence[FinishItem], lease: timedelta, limit: int
    ) -> tuple[list[bool], list[ClaimedRun]]:
        calls.append((len(items), limit))
        return finish_and_claim(w, now, items, lease, limit)

    claim = store.claim

    def counting_claim(w: str, now: datetime, lease: timedelta, limit: int) -> list[ClaimedRun]:
        calls.append((0, limit))  # a step with no results: a claim alone
        return claim(w, now, lease, limit)

    store.finish_and_claim = counting  # type: ignore[method-assign]
    store.claim = counting_claim  # type: ignore[method-assign]
    clock.advance(timedelta(minutes=1))
    assert len(scheduler.run_once(clock.now()).queued) == 8
    assert worker.run_once(clock.now()) == 8
    # The slots hand their results over; nothing is written until the next step.
    wait_for(lambda: len(worker._handed) == 8)
    assert worker.in_flight() == 8  # in flight until written
    assert [r.state for i in range(8) for r in runs_of(tw, f"s{i}")] == [RunState.running] * 8

    clock.advance(timedelta(milliseconds=1))
    assert len(scheduler.run_once(clock.now()).queued) == 1
    assert worker.run_once(clock.now()) == 1  # the 8 results and the claim of "later"
    assert calls == [(0, 8), (8, 8)]
    assert [r.state for i in range(8) for r in runs_of(tw, f"s{i}")] == [RunState.succeeded] * 8
    assert worker.wait_idle(10)  # writes the last result itself
    assert [r.state for r in runs_of(tw, "later")] == [RunState.succeeded]
    assert worker.in_flight() == 0


def test_under_a_backlog_one_free_slot_waits_claim_coalesce_for_more(
    make_tw: Callable[..., Tickwork], clock: FakeClock
) -> None:
    tw = make_tw(concurrency=8)  # a claim of fewer than 2 may wait while runs are in flight
    first, rest = threading.Event(), threading.Event()
    tw.tasks.register("first", lambda: first.wait(10))
    tw.tasks.register("rest", lambda: rest.wait(10))
    tw.add_schedule(name="held0", every="1m", task="first")
    for i in range(1, 8):
        tw.add_schedule(name=f"held{i}", every="1m", task="rest")
    tw.add_schedule(name="waiting", every="1m", task="rest")
    tw.sync()
    engine = tw.engine()
    worker, scheduler = engine.worker, engine.scheduler
    assert worker is not None
    assert scheduler is not None
    clock.advance(timedelta(minutes=1))
    assert len(scheduler.run_once(clock.now()).queued) == 9
    assert worker.run_once(clock.now()) == 8  # a full claim: a backlog
    first.set()
    wait_for(lambda: worker.free_slots() == 1)  # its result waits for the next write

    clock.advance(timedelta(milliseconds=1))
    assert worker.run_once(clock.now()) == 0  # one free slot waits for more
    assert worker.claim_deferred_until == T0 + MINUTE + CLAIM_COALESCE
    assert engine.next_deadline(clock.now()) == T0 + MINUTE + CLAIM_COALESCE

    clock.advance(CLAIM_COALESCE)
    assert worker.run_once(clock.now()) == 1  # no more than CLAIM_COALESCE late
    assert worker.claim_deferred_until is None
    rest.set()
    assert worker.wait_idle(10)
    assert [r.state for r in runs_of(tw, "waiting")] == [RunState.succeeded]


def test_without_a_backlog_a_due_run_is_claimed_at_once(
    make_tw: Callable[..., Tickwork], clock: FakeClock
) -> None:
    tw = make_tw(concurrency=8)
    gate = threading.Event()
    tw.tasks.register("gate", lambda: gate.wait(10))
    for i in range(7):
        tw.add_schedule(name=f"held{i}", every="1m", task="gate")
    tw.add_schedule(name="late", every="1m", task="gate", start_at="2026-03-02T12:01:00.001Z")
    tw.sync()
    engine = tw.engine()
    worker, scheduler = engine.worker, engine.scheduler
    assert worker is not None
    assert scheduler is not None
    clock.advance(timedelta(minutes=1))
    scheduler.run_once(clock.now())
    assert worker.run_once(clock.now()) == 7  # fewer than the 8 slots: no backlog

    clock.advance(timedelta(milliseconds=1))
    assert len(scheduler.run_once(clock.now()).queued) == 1
    assert worker.run_once(clock.now()) == 1  # one free slot, claimed at once
    gate.set()
    assert worker.wait_idle(10)
    assert [r.state for r in runs_of(tw, "late")] == [RunState.succeeded]


def test_sync_reads_only_the_schedules_it_syncs(
    make_tw: Callable[..., Tickwork], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A store holding many API-made schedules is not loaded whole at start-up (scale:
    # 10^6 schedules, scheduler RSS).
    tw = make_tw()
    tw.add_schedule(name="mine", every="1m", command="true")
    tw.sync()
    listed: list[bool] = []
    original = tw.store.list_schedules
    monkeypatch.setattr(
        tw.store, "list_schedules", lambda **kw: listed.append(True) or original(**kw)
    )
    tw.add_schedule(name="new", every="1m", command="true")
    report = tw.sync()
    assert (report["code"].added, report["code"].unchanged) == (("new",), ("mine",))
    assert listed == []


def test_results_are_kept_while_the_database_is_unavailable_and_written_after(
    make_tw: Callable[..., Tickwork], clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    tw = make_tw(concurrency=2)
    tw.add_schedule(name="a", every="1m", command="true")
    tw.sync()
    engine = tw.engine()
    worker = engine.worker
    assert worker is not None
    store = worker._batching
    assert store is not None
    clock.advance(timedelta(minutes=1))
    run_once = engine.run_once
    run_once(clock.now())
    wait_for(lambda: len(worker._handed) == 1)
    original = store.finish_and_claim

    def unavailable(*args: object, **kwargs: object) -> object:
        raise StoreUnavailableError("database restarting; retrying later can help")

    monkeypatch.setattr(store, "finish_and_claim", unavailable)
    with pytest.raises(StoreUnavailableError):
        worker.run_once(clock.now())
    assert len(worker._handed) == 1  # kept for the next write
    assert [r.state for r in runs_of(tw, "a")] == [RunState.running]

    monkeypatch.setattr(store, "finish_and_claim", original)
    worker.run_once(clock.now())
    assert [r.state for r in runs_of(tw, "a")] == [RunState.succeeded]
    assert worker.in_flight() == 0


def test_a_result_the_store_refuses_is_dropped_loudly_and_the_claim_goes_on(
    make_tw: Callable[..., Tickwork],
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    tw = make_tw(concurrency=2)
    tw.add_schedule(name="a", every="1m", command="true")
    tw.add_schedule(name="b", every="1m", command="true", start_at="2026-03-02T12:01:00.001Z")
    tw.sync()
    engine = tw.engine()
    worker, scheduler = engine.worker, engine.scheduler
    assert worker is not None
    assert scheduler is not None
    store = worker._batching
    assert store is not None
    clock.advance(timedelta(minutes=1))
    engine.run_once(clock.now())
    wait_for(lambda: len(worker._handed) == 1)
    original = store.finish_and_claim

    def refusing(
        w: str, now: datetime, items: Sequence[FinishItem], lease: timedelta, limit: int
    ) -> tuple[list[bool], list[ClaimedRun]]:
        if items:
            raise RuntimeError("a bug in the store")
        return original(w, now, items, lease, limit)

    def refused(*args: object) -> list[bool]:
        raise RuntimeError("a bug in the store")

    monkeypatch.setattr(store, "finish_and_claim", refusing)
    monkeypatch.setattr(store, "finish_many", refused)  # the results alone: refused again
    clock.advance(timedelta(milliseconds=1))
    scheduler.run_once(clock.now())
    with caplog.at_level(logging.ERROR, logger="tickwork.worker"):
        assert worker.run_once(clock.now()) == 1  # b is claimed all the same
    assert "failed to record 1 run(s)" in caplog.text
    assert [r.state for r in runs_of(tw, "a")] == [RunState.running]  # the lease recovers it
    monkeypatch.setattr(store, "finish_and_claim", original)
    monkeypatch.undo()
    assert worker.wait_idle(10)
    assert [r.state for r in runs_of(tw, "b")] == [RunState.succeeded]


def test_a_failed_step_still_writes_the_results_on_their_own(
    make_tw: Callable[..., Tickwork], clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    tw = make_tw(concurrency=2)
    tw.add_schedule(name="a", every="1m", command="true")
    tw.sync()
    engine = tw.engine()
    worker = engine.worker
    assert worker is not None
    store = worker._batching
    assert store is not None
    clock.advance(timedelta(minutes=1))
    engine.run_once(clock.now())
    wait_for(lambda: len(worker._handed) == 1)

    def broken(*args: object) -> object:
        raise RuntimeError("a bug in the claim")

    monkeypatch.setattr(store, "finish_and_claim", broken)
    assert worker.run_once(clock.now()) == 0
    assert [r.state for r in runs_of(tw, "a")] == [RunState.succeeded]
    assert worker.in_flight() == 0


def test_with_every_slot_busy_skip_decisions_are_taken_when_runs_come_due(
    make_tw: Callable[..., Tickwork], clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    tw = make_tw(concurrency=2)
    gate = threading.Event()
    tw.tasks.register("gate", lambda: gate.wait(10))
    tw.add_schedule(name="a", every="1m", task="gate")
    tw.add_schedule(name="b", every="1m", task="gate")
    tw.sync()
    engine = tw.engine()
    worker = engine.worker
    assert worker is not None
    store = worker._batching
    assert store is not None
    limits: list[int] = []
    finish_and_claim = store.finish_and_claim

    def counting(
        w: str, now: datetime, items: Sequence[FinishItem], lease: timedelta, limit: int
    ) -> tuple[list[bool], list[ClaimedRun]]:
        limits.append(limit)
        return finish_and_claim(w, now, items, lease, limit)

    claim = store.claim

    def counting_claim(w: str, now: datetime, lease: timedelta, limit: int) -> list[ClaimedRun]:
        limits.append(limit)
        return claim(w, now, lease, limit)

    monkeypatch.setattr(store, "finish_and_claim", counting)
    monkeypatch.setattr(store, "claim", counting_claim)
    try:
        clock.advance(MINUTE)
        engine.run_once(clock.now())  # enqueues a and b, claims both: every slot busy
        assert limits == [2]
        clock.advance(timedelta(milliseconds=5))
        engine.run_once(clock.now())  # nothing came due: no pass with no room
        assert limits == [2]
        clock.advance(MINUTE)  # the next fires of the busy schedules come due
        engine.run_once(clock.now())  # the scheduler's enqueue announces them
        assert limits == [2, 0]
        assert [r.state for r in runs_of(tw, "a")] == [RunState.running, RunState.skipped]
        clock.advance(timedelta(milliseconds=5))
        worker.run_once(clock.now())
        assert limits == [2, 0]
        clock.advance(SKIP_RECHECK)  # and at least this often, as a poll would
        worker.run_once(clock.now())
        assert limits == [2, 0, 0]
        engine.wake()  # a run triggered, a notification: announced
        worker.run_once(clock.now())
        assert limits == [2, 0, 0, 0]
    finally:
        gate.set()
    assert worker.wait_idle(10)


def test_each_role_wakes_for_its_own_work(
    make_tw: Callable[..., Tickwork], clock: FakeClock
) -> None:
    """A scheduler alone wakes at the next fire, not at a waiting run's due time (it cannot
    claim it); a worker alone wakes at both (a scheduler elsewhere enqueues the fire)."""
    scheduling, working = make_tw(), make_tw()
    for tw in (scheduling, working):
        tw.tasks.register("noop", lambda: None)
        tw.add_schedule(name="minutely", every="1m", task="noop")
    scheduling.sync()
    clock.advance(MINUTE - timedelta(milliseconds=300))
    now = clock.now()
    scheduling.store.trigger("minutely", now + timedelta(milliseconds=100))  # due soon
    scheduler_alone = scheduling.engine(worker=False)
    worker_alone = working.engine(scheduler=False)
    assert scheduler_alone.settings.poll_interval > timedelta(milliseconds=300)
    assert scheduler_alone.next_deadline(now) == T0 + MINUTE  # the fire
    assert worker_alone.next_deadline(now) == now + timedelta(milliseconds=100)  # the run
