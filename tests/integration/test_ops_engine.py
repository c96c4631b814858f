"""Operations in the engine on the fake clock: overdue, run-failed alerts, pause on failure,
backfill fed one run at a time, automatic retention."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tickwork.app import Tickwork
from tickwork.config import Settings
from tickwork.context import TaskContext
from tickwork.errors import InvalidSpecError
from tickwork.monitor import Monitor, MonitorSettings
from tickwork.store.api_base import StoredResponse
from tickwork.store.ops import OperationsStore
from tickwork.testing import FakeClock, run_until_idle

from .conftest import T0, runs_of, table

MINUTE = timedelta(minutes=1)
PASS = timedelta(seconds=6)  # more than the monitor's interval and its finish lag


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def settle(tw: Tickwork, clock: FakeClock) -> None:
    """Run what is due, then let the monitor look at it (past its interval and lag)."""
    run_until_idle(tw)
    clock.advance(PASS)
    run_until_idle(tw)


def health(tw: Tickwork, name: str):  # type: ignore[no-untyped-def]
    [found] = [h for h in tw.ops_store.list_health() if h.schedule == name]
    return found


def alerts_of(tw: Tickwork) -> list[tuple[str, str, str | None]]:
    return sorted(
        (a.kind, a.schedule, a.fire.isoformat() if a.fire else None)
        for a in tw.ops_store.list_alerts()
    )


@pytest.fixture
def ops_tw(tmp_path: Path, clock: FakeClock) -> Callable[..., Tickwork]:
    made: list[Tickwork] = []

    def make(**settings: object) -> Tickwork:
        base = Settings(database_url=f"sqlite:///{tmp_path / 'tw.db'}")
        tw = Tickwork(config=replace(base, **settings), clock=clock, worker_id="w")  # type: ignore[arg-type]
        made.append(tw)
        return tw

    yield make  # type: ignore[misc]
    for tw in made:
        tw.close()


def test_a_failing_hourly_job_is_overdue_half_an_hour_after_its_fire(
    ops_tw: Callable[..., Tickwork], clock: FakeClock
) -> None:
    tw = ops_tw()
    fail = [True]

    @tw.task(cron="0 * * * *")
    def hourly() -> None:
        if fail[0]:
            raise RuntimeError("disk full")

    tw.sync()
    clock.set(at("2026-03-02T13:00:00+00:00"))
    settle(tw, clock)
    assert table(runs_of(tw, "hourly")) == [("2026-03-02T13:00:00+00:00", "failed", 1)]
    assert alerts_of(tw) == [("run_failed", "hourly", "2026-03-02T13:00:00+00:00")]
    clock.set(at("2026-03-02T13:29:59+00:00"))
    settle(tw, clock)  # settle moves on 6 s: 13:30:05
    assert tw.engine().monitor is not None
    assert health(tw, "hourly").overdue_since == at("2026-03-02T13:30:00+00:00")
    assert health(tw, "hourly").overdue_fire == at("2026-03-02T13:00:00+00:00")
    assert alerts_of(tw) == [
        ("overdue", "hourly", "2026-03-02T13:00:00+00:00"),
        ("run_failed", "hourly", "2026-03-02T13:00:00+00:00"),
    ]
    # Still overdue later: no second overdue alert for the same episode.
    clock.set(at("2026-03-02T13:50:00+00:00"))
    settle(tw, clock)
    assert len(alerts_of(tw)) == 2

    fail[0] = False
    clock.set(at("2026-03-02T14:00:00+00:00"))
    settle(tw, clock)
    assert health(tw, "hourly").overdue_since is None
    assert health(tw, "hourly").last_success_fire == at("2026-03-02T14:00:00+00:00")
    assert health(tw, "hourly").consecutive_failures == 0
    samples = {
        (s.labels["kind"], s.labels["outcome"]): s.value
        for metric in tw.metrics.registry.collect()
        if metric.name == "tickwork_alerts"
        for s in metric.samples
        if s.name == "tickwork_alerts_total"
    }
    assert samples == {("run_failed", "created"): 1.0, ("overdue", "created"): 1.0}


def test_a_schedule_not_yet_due_is_not_overdue(
    ops_tw: Callable[..., Tickwork], clock: FakeClock
) -> None:
    tw = ops_tw()

    @tw.task(cron="0 3 * * *", overdue_after="5m")
    def nightly() -> None:
        pass

    tw.sync()  # 12:00, first fire tomorrow 03:00
    clock.set(at("2026-03-03T03:04:00+00:00"))
    clock.advance(-PASS)
    settle(tw, clock)
    assert health(tw, "nightly").overdue_since is None
    assert alerts_of(tw) == []


def test_paused_after_n_failures_in_a_row(
    ops_tw: Callable[..., Tickwork], clock: FakeClock
) -> None:
    tw = ops_tw(pause_after_failures=2)

    @tw.task(every="1m")
    def flaky() -> None:
        raise RuntimeError("no")

    tw.sync()
    for _ in range(2):
        clock.set(clock.now().replace(second=0) + MINUTE)
        settle(tw, clock)
    row = tw.store.get_schedule("flaky")
    assert row is not None
    assert row.paused
    assert ("paused_on_failure", "flaky", "2026-03-02T12:02:00+00:00") in alerts_of(tw)
    clock.advance(3 * MINUTE)
    settle(tw, clock)
    assert [r.state.value for r in runs_of(tw, "flaky")] == [
        "failed",
        "failed",
        "skipped",
        "skipped",
        "skipped",
    ]


def test_backfill_runs_each_fire_once_oldest_first_one_at_a_time(
    ops_tw: Callable[..., Tickwork], clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tickwork")  # log records are built, not dropped
    tw = ops_tw(concurrency=4)
    seen: list[str] = []
    running = [0]
    most = [0]

    @tw.task(cron="0 * * * *")
    def hourly(context: TaskContext) -> None:
        running[0] += 1
        most[0] = max(most[0], running[0])
        seen.append(context.idempotency_key)
        running[0] -= 1

    tw.sync()
    plan = tw.plan_backfill(
        "hourly", at("2026-03-01T00:00:00+00:00"), at("2026-03-01T05:00:00+00:00")
    )
    assert len(plan.fires) == 6
    first = tw.backfill(plan)
    assert (first.created, first.existing) == (6, 0)
    [logged] = [r for r in caplog.records if getattr(r, "action", None) == "backfill_created"]
    assert (logged.runs_created, logged.fires_with_runs) == (6, 0)  # type: ignore[attr-defined]
    settle(tw, clock)
    assert seen == [f"hourly@2026-03-01T0{h}:00:00+00:00" for h in range(6)]
    assert most[0] == 1
    again = tw.backfill(
        tw.plan_backfill("hourly", at("2026-03-01T00:00:00+00:00"), at("2026-03-01T06:00:00+00:00"))
    )
    assert (again.created, again.existing) == (1, 6)
    settle(tw, clock)
    assert len(seen) == 7
    assert {r.kind for r in runs_of(tw, "hourly")} == {"backfill"}


def test_backfill_refuses_bad_ranges_and_policies(
    ops_tw: Callable[..., Tickwork], clock: FakeClock
) -> None:
    tw = ops_tw()

    @tw.task(cron="* * * * * *")  # every second
    def often() -> None:
        pass

    tw.sync()
    with pytest.raises(InvalidSpecError) as future:
        tw.plan_backfill("often", T0 - MINUTE, T0 + MINUTE)
    assert future.value.field == "to"
    with pytest.raises(InvalidSpecError) as policy:
        tw.plan_backfill("often", T0 - MINUTE, T0, overlap="allow")
    assert policy.value.field == "overlap"
    assert "skip" in policy.value.expected
    with pytest.raises(InvalidSpecError) as big:
        tw.plan_backfill("often", T0 - timedelta(days=30), T0, limit=1000)
    assert big.value.field == "limit"
    assert "narrow the range" in str(big.value)
    assert runs_of(tw, "often") == []  # nothing written


def test_retention_prunes_old_runs_in_the_background(
    ops_tw: Callable[..., Tickwork], clock: FakeClock
) -> None:
    tw = ops_tw(retention=timedelta(hours=1))

    @tw.task(every="10m")
    def job() -> None:
        pass

    tw.sync()
    for _ in range(12):
        clock.advance(10 * MINUTE)
        run_until_idle(tw)
    clock.advance(2 * MINUTE)
    run_until_idle(tw)
    store = tw.ops_store
    assert isinstance(store, OperationsStore)
    kept = runs_of(tw, "job")
    assert 0 < len(kept) < 12  # the oldest were pruned
    assert all(
        r.finished_at is not None and r.finished_at >= clock.now() - timedelta(hours=1.2)
        for r in kept
    )
    assert store.run_totals("job")["succeeded"] == 12  # type: ignore[index]


def test_a_prune_pass_takes_a_few_bounded_batches(
    ops_tw: Callable[..., Tickwork], clock: FakeClock
) -> None:
    tw = ops_tw()

    @tw.task(every="1m")
    def job() -> None:
        pass

    tw.sync()
    for _ in range(50):
        clock.advance(MINUTE)
        run_until_idle(tw)
    clock.advance(timedelta(hours=2))
    monitor = Monitor(
        tw.ops_store,
        settings=MonitorSettings(retention=timedelta(hours=1), prune_batch=10, prune_batches=3),
    )
    assert monitor.prune(clock.now()) == 30  # three full batches, then it stops
    assert monitor.prune(clock.now()) == 20  # the rest: a batch came back short
    assert monitor.prune(clock.now()) == 0
    assert tw.ops_store.run_totals("job")["succeeded"] == 50  # type: ignore[index]


def test_the_prune_pass_forgets_idempotency_answers_older_than_a_day(
    ops_tw: Callable[..., Tickwork], clock: FakeClock
) -> None:
    tw = ops_tw()
    tw.add_schedule(name="job", every="1h", command="true")
    tw.sync()

    def answer(key: str) -> None:
        tw.remember_response("admin", "POST /x", key, StoredResponse("h", 201, {"ok": True}))

    answer("old")
    clock.advance(timedelta(hours=20))
    answer("recent")
    clock.advance(timedelta(hours=5))  # "old" is 25 h old, "recent" 5 h
    monitor = Monitor(tw.ops_store, settings=MonitorSettings(retention=timedelta(days=30)))
    monitor.prune(clock.now())
    assert tw.stored_response("admin", "POST /x", "old") is None
    assert tw.stored_response("admin", "POST /x", "recent") is not None


def test_on_its_own_thread_a_record_pass_goes_a_page_at_a_time(
    ops_tw: Callable[..., Tickwork], clock: FakeClock
) -> None:
    """``periodic`` (the monitor's thread) records one page, then asks to be called again
    after ``page_pause``, so the loop's thread runs between pages; ``run_once`` (the loop
    stepping it itself) records every page in one go."""
    tw = ops_tw()

    @tw.task(every="1m")
    def job() -> None:
        pass

    tw.sync()
    for _ in range(5):
        clock.advance(MINUTE)
        run_until_idle(tw)
    clock.advance(timedelta(minutes=1))  # past finish_lag: all five can be recorded
    settings = MonitorSettings(record_page=2, page_pause=timedelta(milliseconds=7))
    paced = Monitor(tw.ops_store, settings=settings)
    now = clock.now()
    pages = []
    for _ in range(4):
        due = paced.periodic(now)
        assert paced._cursor is not None
        pages.append((paced._cursor[1], due - now))
    cursors = [cursor for cursor, _ in pages]
    assert cursors == sorted(cursors)
    assert len(set(cursors)) == 3  # pages of 2, 2 and 1 runs
    assert [wait for _, wait in pages[:2]] == [timedelta(milliseconds=7)] * 2
    assert pages[2][1] == pages[3][1] == settings.interval  # done: the next pass in 5 s
    whole = Monitor(tw.ops_store, settings=settings)
    whole.run_once(now)
    assert whole._cursor == paced._cursor
