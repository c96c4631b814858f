"""The engine on the fake clock: exact run rows for every policy (DESIGN.md, promises 1-4)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from tickwork.app import Tickwork
from tickwork.config import load_config
from tickwork.context import TaskContext
from tickwork.model import RunState
from tickwork.policies.retry import RetryPolicy, next_attempt_at
from tickwork.testing import FakeClock, run_until_idle

from .conftest import T0, runs_of, table

MINUTE = timedelta(minutes=1)


def iso(text: str) -> str:
    """Expected instants are written as ISO strings with offsets."""
    return text


def step_minutes(tw: Tickwork, clock: FakeClock, minutes: int) -> None:
    for _ in range(minutes):
        clock.advance(MINUTE)
        run_until_idle(tw)


def test_every_minute_schedule_runs_each_fire_once(tw: Tickwork, clock: FakeClock) -> None:
    seen: list[str] = []

    @tw.task(cron="* * * * *")
    def tick(context: TaskContext) -> None:
        seen.append(context.idempotency_key)

    tw.sync()
    step_minutes(tw, clock, 3)
    assert table(runs_of(tw, "tick")) == [
        (iso("2026-03-02T12:01:00+00:00"), "succeeded", 1),
        (iso("2026-03-02T12:02:00+00:00"), "succeeded", 1),
        (iso("2026-03-02T12:03:00+00:00"), "succeeded", 1),
    ]
    assert seen == [f"tick@2026-03-02T12:0{m}:00+00:00" for m in (1, 2, 3)]


def _downtime(tw: Tickwork, clock: FakeClock, **schedule: object) -> list[tuple[str, str, int]]:
    @tw.task(cron="0 * * * *", **schedule)
    def hourly() -> None:
        pass

    tw.sync()
    clock.advance(timedelta(hours=5, minutes=30))  # down from 12:00 to 17:30
    run_until_idle(tw)
    return table(runs_of(tw, "hourly"))


HOURS = [f"2026-03-02T{h}:00:00+00:00" for h in (13, 14, 15, 16, 17)]


def test_catchup_latest_runs_the_most_recent_missed_fire(tw: Tickwork, clock: FakeClock) -> None:
    assert _downtime(tw, clock, catchup="latest") == [
        *[(h, "missed", 0) for h in HOURS[:4]],
        (HOURS[4], "succeeded", 1),
    ]


def test_catchup_skip_records_every_missed_fire(tw: Tickwork, clock: FakeClock) -> None:
    assert _downtime(tw, clock, catchup="skip") == [(h, "missed", 0) for h in HOURS]


def test_catchup_all_with_buffer_all_runs_each_oldest_first(tw: Tickwork, clock: FakeClock) -> None:
    rows = _downtime(tw, clock, catchup="all", overlap="buffer_all")
    assert rows == [(h, "succeeded", 1) for h in HOURS]
    started = [r.started_at for r in runs_of(tw, "hourly")]
    assert started == sorted(started)


def test_catchup_all_is_bounded_by_catchup_limit(tw: Tickwork, clock: FakeClock) -> None:
    assert _downtime(tw, clock, catchup="all", catchup_limit=2, overlap="buffer_all") == [
        (HOURS[0], "succeeded", 1),
        (HOURS[1], "succeeded", 1),
        *[(h, "missed", 0) for h in HOURS[2:]],
    ]


def test_catchup_all_with_overlap_skip_runs_one_and_skips_the_rest(
    tw: Tickwork, clock: FakeClock
) -> None:
    assert _downtime(tw, clock, catchup="all", overlap="skip") == [
        (HOURS[0], "succeeded", 1),
        *[(h, "skipped", 0) for h in HOURS[1:]],
    ]


def test_catchup_window_records_older_fires_missed_whatever_the_policy(
    tw: Tickwork, clock: FakeClock
) -> None:
    rows = _downtime(tw, clock, catchup="all", catchup_window="2h30m", overlap="buffer_all")
    assert rows == [
        (HOURS[0], "missed", 0),
        (HOURS[1], "missed", 0),
        *[(h, "succeeded", 1) for h in HOURS[2:]],
    ]


class Gate:
    """A task that blocks until released (or cancelled), recording what it saw."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started: list[str] = []
        self.cancelled: list[str] = []
        self._cv = threading.Condition()

    def __call__(self, context: TaskContext) -> None:
        with self._cv:
            self.started.append(context.idempotency_key)
            self._cv.notify_all()
        deadline = time.monotonic() + 10
        while not self.release.is_set() and time.monotonic() < deadline:
            if context.cancelled.wait(0.01):
                self.cancelled.append(context.idempotency_key)
                return

    def wait_started(self, count: int) -> None:
        with self._cv:
            assert self._cv.wait_for(lambda: len(self.started) >= count, 10), self.started


def _overlap(tw: Tickwork, clock: FakeClock, policy: str, fires: int) -> Gate:
    gate = Gate()
    tw.task(cron="* * * * *", name="busy", overlap=policy)(gate)
    tw.sync()
    engine = tw.engine()
    clock.advance(MINUTE)
    engine.run_once(clock.now())
    gate.wait_started(1)
    for _ in range(fires - 1):
        clock.advance(MINUTE)
        engine.run_once(clock.now())
    return gate


def _finish(tw: Tickwork, gate: Gate) -> list[tuple[str, str, int]]:
    gate.release.set()
    run_until_idle(tw)
    return table(runs_of(tw, "busy"))


M = [f"2026-03-02T12:0{m}:00+00:00" for m in (1, 2, 3)]


def test_overlap_skip_records_fires_while_running_as_skipped(
    tw: Tickwork, clock: FakeClock
) -> None:
    gate = _overlap(tw, clock, "skip", 3)
    assert _finish(tw, gate) == [(M[0], "succeeded", 1), (M[1], "skipped", 0), (M[2], "skipped", 0)]


def test_overlap_buffer_one_keeps_one_waiting(tw: Tickwork, clock: FakeClock) -> None:
    gate = _overlap(tw, clock, "buffer_one", 3)
    assert _finish(tw, gate) == [
        (M[0], "succeeded", 1),
        (M[1], "succeeded", 1),
        (M[2], "skipped", 0),
    ]


def test_overlap_buffer_all_runs_them_one_after_another(tw: Tickwork, clock: FakeClock) -> None:
    gate = _overlap(tw, clock, "buffer_all", 3)
    assert [r.state for r in runs_of(tw, "busy")] == [
        RunState.running,
        RunState.queued,
        RunState.queued,
    ]
    assert _finish(tw, gate) == [(m, "succeeded", 1) for m in M]
    assert gate.started == [f"busy@{m}" for m in M]


def test_overlap_allow_runs_concurrently(tw: Tickwork, clock: FakeClock) -> None:
    gate = _overlap(tw, clock, "allow", 3)
    gate.wait_started(3)
    assert [r.state for r in runs_of(tw, "busy")] == [RunState.running] * 3
    assert _finish(tw, gate) == [(m, "succeeded", 1) for m in M]


def test_overlap_cancel_other_cancels_the_running_run(tw: Tickwork, clock: FakeClock) -> None:
    gate = _overlap(tw, clock, "cancel_other", 2)
    gate.wait_started(2)
    engine = tw.engine()
    clock.advance(timedelta(seconds=30))
    engine.run_once(clock.now())  # the heartbeat tells the old attempt its lease is gone
    deadline = time.monotonic() + 10
    while not gate.cancelled and time.monotonic() < deadline:
        time.sleep(0.01)
    assert gate.cancelled == [f"busy@{M[0]}"]
    assert _finish(tw, gate)[:2] == [(M[0], "cancelled", 1), (M[1], "succeeded", 1)]


def test_retries_back_off_exponentially_then_succeed(tw: Tickwork, clock: FakeClock) -> None:
    attempts: list[int] = []

    @tw.task(cron="0 * * * *", retries=3, backoff="10s", backoff_max="1m")
    def wobbly(context: TaskContext) -> None:
        attempts.append(context.attempt)
        if context.attempt < 3:
            raise ConnectionError(f"attempt {context.attempt} failed")

    tw.sync()
    clock.set(T0 + timedelta(hours=1))
    run_until_idle(tw)
    policy = RetryPolicy(
        max_attempts=4, backoff=timedelta(seconds=10), backoff_max=timedelta(minutes=1)
    )
    key = "wobbly@2026-03-02T13:00:00+00:00"
    for attempt in (1, 2):
        (run,) = runs_of(tw, "wobbly")
        assert (run.state, run.attempt) == (RunState.retrying, attempt)
        assert run.due_at == next_attempt_at(clock.now(), attempt, policy, key)
        assert "ConnectionError" in (run.error or "")
        clock.set(run.due_at)
        run_until_idle(tw)
    (run,) = runs_of(tw, "wobbly")
    assert (run.state, run.attempt, attempts) == (RunState.succeeded, 3, [1, 2, 3])
    events = [e.event for e in tw.store.run_events(run.id)]
    assert events == [
        "run_enqueued",
        "run_claimed",
        "run_retry_scheduled",
        "run_claimed",
        "run_retry_scheduled",
        "run_claimed",
        "run_succeeded",
    ]
    retries = [e for e in tw.store.run_events(run.id) if e.event == "run_retry_scheduled"]
    assert ["attempt 1 failed" in e.detail["error"] for e in retries[:1]] == [True]
    assert "attempt 2 failed" in retries[1].detail["error"]


def test_last_failed_attempt_makes_the_run_failed(tw: Tickwork, clock: FakeClock) -> None:
    @tw.task(cron="0 * * * *", retries=1, backoff="5s")
    def broken() -> None:
        raise ValueError("always")

    tw.sync()
    clock.set(T0 + timedelta(hours=1))
    run_until_idle(tw)
    (run,) = runs_of(tw, "broken")
    clock.set(run.due_at)
    run_until_idle(tw)
    (run,) = runs_of(tw, "broken")
    assert (run.state, run.attempt, run.max_attempts) == (RunState.failed, 2, 2)
    assert "ValueError: always" in (run.error or "")


def _slow_sync() -> None:
    time.sleep(2)


async def _slow_async() -> None:
    await asyncio.sleep(5)


@pytest.mark.parametrize(
    "definition",
    [
        pytest.param({"task": _slow_sync}, id="sync-thread"),
        pytest.param({"task": _slow_async}, id="async"),
        pytest.param({"command": "sleep 5"}, id="subprocess"),
    ],
)
def test_timeouts_end_the_attempt_as_timed_out(
    tw: Tickwork, clock: FakeClock, definition: dict[str, object]
) -> None:
    if "task" in definition:
        tw.task(cron="0 * * * *", name="slow", timeout="200ms")(definition["task"])
    else:
        tw.add_schedule(name="slow", cron="0 * * * *", command="sleep 5", timeout="200ms")
    tw.sync()
    clock.set(T0 + timedelta(hours=1))
    started = time.monotonic()
    run_until_idle(tw)
    assert time.monotonic() - started < 4
    (run,) = runs_of(tw, "slow")
    assert run.state is RunState.timed_out


def test_expired_lease_is_reclaimed_and_retried_with_the_same_key(
    tw: Tickwork, clock: FakeClock
) -> None:
    keys: list[tuple[str, int]] = []

    @tw.task(cron="0 * * * *", retries=2)
    def survivor(context: TaskContext) -> None:
        keys.append((context.idempotency_key, context.attempt))

    tw.sync()
    clock.set(T0 + timedelta(hours=1))
    tw.engine().scheduler.run_once(clock.now())  # type: ignore[union-attr]
    (lost,) = tw.store.claim("dead-worker", clock.now(), timedelta(seconds=30), 10)
    clock.advance(timedelta(seconds=31))
    run_until_idle(tw)
    (run,) = runs_of(tw, "survivor")
    assert (run.id, run.state, run.attempt) == (lost.run.id, RunState.succeeded, 2)
    assert keys == [("survivor@2026-03-02T13:00:00+00:00", 2)]
    assert "run_lease_expired" in [e.event for e in tw.store.run_events(run.id)]


def test_graceful_stop_releases_running_runs_for_another_worker(
    make_tw: Callable[..., Tickwork], clock: FakeClock
) -> None:
    gate = Gate()
    first = make_tw()
    first.task(cron="0 * * * *", name="busy")(gate)
    first.sync()
    clock.set(T0 + timedelta(hours=1))
    first.engine().run_once(clock.now())
    gate.wait_started(1)
    worker = first.engine().worker
    assert worker is not None
    worker.stop(grace=0.1)
    (run,) = runs_of(first, "busy")
    assert (run.state, run.attempt, run.lease_owner) == (RunState.queued, 0, None)
    gate.release.set()

    second = make_tw()
    second.task(cron="0 * * * *", name="busy")(gate)
    run_until_idle(second)
    (run,) = runs_of(second, "busy")
    assert (run.state, run.attempt) == (RunState.succeeded, 1)


def test_paused_schedule_records_its_fires_as_skipped(tw: Tickwork, clock: FakeClock) -> None:
    @tw.task(cron="* * * * *")
    def paused_job() -> None:
        pass

    tw.sync()
    tw.pause("paused_job")
    step_minutes(tw, clock, 2)
    tw.resume("paused_job")
    step_minutes(tw, clock, 1)
    assert table(runs_of(tw, "paused_job")) == [
        (M[0], "skipped", 0),
        (M[1], "skipped", 0),
        (M[2], "succeeded", 1),
    ]
    assert runs_of(tw, "paused_job")[0].error == "schedule paused"


def test_trigger_runs_a_schedule_now(tw: Tickwork, clock: FakeClock) -> None:
    @tw.task(cron="0 3 * * *")
    def report() -> None:
        pass

    tw.sync()
    run = tw.trigger("report")
    run_until_idle(tw)
    (done,) = runs_of(tw, "report")
    assert (done.id, done.kind, done.state) == (run.id, "manual", RunState.succeeded)
    assert done.nominal_fire == T0


def test_two_engines_on_one_file_run_each_fire_once(
    make_tw: Callable[..., Tickwork], clock: FakeClock
) -> None:
    effects: Counter[str] = Counter()
    engines = []
    for _ in range(2):
        tw = make_tw()
        tw.task(cron="* * * * *", name="shared")(
            lambda context: effects.update([context.idempotency_key])
        )
        tw.task(every="20s", name="fast")(lambda context: effects.update([context.idempotency_key]))
        tw.sync()
        engines.append(tw)
    for _ in range(30):
        clock.advance(timedelta(seconds=20))
        for tw in engines:
            tw.engine().run_once(clock.now())
        for tw in engines:
            run_until_idle(tw)
    shared = runs_of(engines[0], "shared")
    fast = runs_of(engines[0], "fast")
    assert len(shared) == 10
    assert len(fast) == 30
    assert {r.state for r in shared + fast} == {RunState.succeeded}
    assert set(effects.values()) == {1}
    assert len(effects) == 40
    owners = {r.lease_owner for r in shared + fast}
    assert owners == {None}


def test_one_off_defined_just_after_its_instant_still_runs_once(
    tw: Tickwork, clock: FakeClock
) -> None:
    @tw.task(at="2026-03-02T11:59:30+00:00")
    def once() -> None:
        pass

    @tw.task(at="2026-03-02T10:00:00+00:00")
    def long_gone() -> None:
        pass

    tw.sync()
    run_until_idle(tw)
    clock.advance(timedelta(days=1))
    run_until_idle(tw)
    assert table(runs_of(tw, "once")) == [("2026-03-02T11:59:30+00:00", "succeeded", 1)]
    assert runs_of(tw, "long_gone") == []
    assert tw.store.get_schedule("long_gone").next_fire_at is None  # type: ignore[union-attr]


def test_overlap_skip_is_decided_when_the_fire_is_due_even_with_no_free_slot(
    make_tw: Callable[..., Tickwork], clock: FakeClock
) -> None:
    tw = make_tw(concurrency=1)
    gate = _overlap(tw, clock, "skip", 2)  # the 12:02 fire comes due while 12:01 holds the slot
    assert [r.state for r in runs_of(tw, "busy")] == [RunState.running, RunState.skipped]
    assert _finish(tw, gate) == [(M[0], "succeeded", 1), (M[1], "skipped", 0)]


def test_changing_a_schedule_during_downtime_accounts_for_the_fires_missed_before(
    make_tw: Callable[..., Tickwork], clock: FakeClock
) -> None:
    first = make_tw()
    first.add_schedule(name="poll", every="5s", command="true")
    first.sync()
    clock.advance(timedelta(seconds=5))
    run_until_idle(first)
    first.close()
    clock.advance(timedelta(seconds=20))  # down: fires at +10s, +15s, +20s, +25s pass
    second = make_tw()
    second.add_schedule(name="poll", every="5s", command="true", timeout="1m")  # changed
    report = second.sync()
    assert report["code"].changed == ("poll",)
    run_until_idle(second)
    rows = table(runs_of(second, "poll"))
    assert [r[0][11:19] for r in rows] == [
        "12:00:05",
        "12:00:10",
        "12:00:15",
        "12:00:20",
        "12:00:25",
    ]
    # Within misfire_grace the four are on time; overlap "skip" runs one of the burst.
    assert [r[1] for r in rows] == ["succeeded", "succeeded", "skipped", "skipped", "skipped"]


def test_a_process_without_config_leaves_config_schedules_alone(
    tmp_path: Path, make_tw: Callable[..., Tickwork]
) -> None:
    path = tmp_path / "tickwork.toml"
    path.write_text('[[schedule]]\nname = "nightly"\ncron = "0 3 * * *"\ncommand = "true"\n')
    with_config = make_tw(config=load_config(path, environ={}))
    with_config.sync()
    bare = make_tw()
    assert bare.sync() == {}
    (row,) = bare.store.list_schedules()
    assert (row.name, row.retired) == ("nightly", False)
