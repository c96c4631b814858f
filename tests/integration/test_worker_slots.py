"""Where the worker runs a sync task: without a timeout in its own slot thread (a daemon
thread, no hand-off), with a timeout in a helper thread that the deadline can give up on.
On the fake clock."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta

import pytest

from tickwork.app import Tickwork
from tickwork.config import Settings
from tickwork.model import RunState
from tickwork.testing import FakeClock, run_until_idle

from .conftest import T0, runs_of, wait_for


def test_a_sync_task_without_a_timeout_runs_in_a_daemon_slot_thread(
    make_tw: Callable[..., Tickwork], clock: FakeClock
) -> None:
    tw = make_tw()
    threads: dict[str, threading.Thread] = {}
    tw.tasks.register("plain", lambda: threads.setdefault("plain", threading.current_thread()))
    tw.tasks.register("timed", lambda: threads.setdefault("timed", threading.current_thread()))
    tw.add_schedule(name="plain", every="1m", task="plain")
    tw.add_schedule(name="timed", every="1m", task="timed", timeout="30s")
    tw.sync()
    clock.advance(timedelta(minutes=1))
    run_until_idle(tw)
    assert [r.state for r in runs_of(tw, "plain")] == [RunState.succeeded]
    assert [r.state for r in runs_of(tw, "timed")] == [RunState.succeeded]
    assert threads["plain"].name.startswith("tickwork_")  # the worker's slot
    assert threads["plain"].daemon
    assert threads["timed"].name.startswith("tickwork-task-timed-")  # a helper
    assert threads["timed"] is not threads["plain"]


def test_a_task_ignoring_the_stop_keeps_its_slot_and_its_run_is_given_back_loudly(
    make_tw: Callable[..., Tickwork], clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    tw = make_tw()
    started, release = threading.Event(), threading.Event()

    def stubborn() -> None:  # never looks at context.cancelled
        started.set()
        release.wait(10)

    tw.tasks.register("stubborn", stubborn)
    tw.add_schedule(name="stubborn", every="1m", task="stubborn")
    tw.sync()
    clock.advance(timedelta(minutes=1))
    engine = tw.engine()
    worker = engine.worker
    assert worker is not None
    try:
        engine.run_once(clock.now())
        assert started.wait(10)
        with caplog.at_level(logging.WARNING, logger="tickwork.worker"):
            worker.stop(grace=0.05)  # returns although the task is still running
        assert worker.in_flight() == 1  # the slot stays taken: concurrency holds
        (run,) = runs_of(tw, "stubborn")
        assert (run.state, run.lease_owner) == (RunState.queued, None)
        given_back = [r for r in caplog.records if getattr(r, "action", "") == "run_released"]
        assert len(given_back) == 1
        assert "may still be running" in given_back[0].getMessage()
    finally:
        release.set()
    assert worker.wait_idle(10)


def test_a_stop_keeps_extending_the_leases_of_the_tasks_it_waits_for(
    make_tw: Callable[..., Tickwork], clock: FakeClock
) -> None:
    """SIGTERM gives running tasks ``stop_grace``; the loop that extended their leases has
    ended by then, so the stop must extend them itself, or with a grace as long as the
    lease (30 s each, the defaults) another process's reaper takes the run back while its
    task is still running: recorded failed after it succeeded, or run twice at once."""
    lease = timedelta(seconds=3)
    tw = make_tw(config=Settings(lease=lease))  # the fixture's database, this lease
    started, release = threading.Event(), threading.Event()

    def slow() -> None:
        started.set()
        release.wait(10)

    tw.tasks.register("slow", slow)
    tw.add_schedule(name="slow", every="1m", task="slow")
    tw.sync()
    clock.advance(timedelta(minutes=1))
    engine = tw.engine()
    worker = engine.worker
    assert worker is not None
    worker.heartbeat = timedelta(milliseconds=10)  # beats in real time: keep the test short
    engine.run_once(clock.now())  # enqueued and claimed
    assert started.wait(10)
    [run] = runs_of(tw, "slow")
    assert run.lease_expires_at == T0 + timedelta(minutes=1) + lease

    stopping = threading.Thread(target=worker.stop, args=(10.0,))
    stopping.start()
    try:
        clock.advance(timedelta(seconds=2))  # the grace goes on past the lease...
        wait_for(lambda: _lease_of(tw, "slow") == clock.now() + lease)  # ...extended
        clock.advance(timedelta(seconds=2))
        assert tw.store.reclaim_expired(clock.now(), 10) == []  # another process's reaper
    finally:
        release.set()
        stopping.join(10)
    [run] = runs_of(tw, "slow")
    assert (run.state, run.attempt) == (RunState.succeeded, 1)


def _lease_of(tw: Tickwork, schedule: str) -> object:
    [run] = runs_of(tw, schedule)
    return run.lease_expires_at
