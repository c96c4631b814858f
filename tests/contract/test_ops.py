"""The operations interface (store/ops.py) on every store: backfill, health, overdue, the
alert outbox, retention that keeps counts."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert, select

from tickwork import events
from tickwork.errors import InvalidSpecError, ScheduleNotFoundError
from tickwork.model import Outcome, Run, RunState, ScheduleRow
from tickwork.store import Store
from tickwork.store.ops import BACKFILL_PARKED, OperationsStore
from tickwork.store.schema import run_counts, runs
from tickwork.store.sql import SQLStore

from .conftest import LEASE, MINUTE, T0, Backend, add_schedule, event_names, fires, runs_of

SECOND = timedelta(seconds=1)
HOUR = timedelta(hours=1)


def ops(store: Store) -> OperationsStore:
    assert isinstance(store, OperationsStore)
    return store


def finish_all(store: Store, name: str, upto: datetime, state: RunState) -> list[Run]:
    """Queue the minutely fires of ``name`` up to ``upto`` and finish each in ``state``
    (one attempt each, finished a second after its fire)."""
    made = fires(store, name, upto)
    for run in made:
        [claimed] = store.claim("w", run.nominal_fire, LEASE, 1)
        assert claimed.run.id == run.id
        assert store.finish(run.id, "w", run.nominal_fire + SECOND, Outcome(state))
    return made


# -- backfill ------------------------------------------------------------------------------


def test_backfill_twice_creates_no_second_run_for_a_fire(store: Store) -> None:
    add_schedule(store, "job", next_fire_at=None)
    first = [T0 + i * MINUTE for i in range(10)]
    made = ops(store).backfill_runs("job", first, T0 + HOUR, parked=False)
    assert len(made.created) == 10
    assert made.existing == 0
    again = ops(store).backfill_runs("job", [*first, T0 + 10 * MINUTE], T0 + HOUR, parked=False)
    assert [r.nominal_fire for r in again.created] == [T0 + 10 * MINUTE]
    assert again.existing == 10
    assert len(runs_of(store, "job")) == 11
    run = runs_of(store, "job")[0]
    assert (run.kind, run.state, run.due_at) == ("backfill", RunState.queued, T0 + HOUR)
    assert event_names(store, run) == [events.RUN_TRIGGERED]


def test_backfill_leaves_a_fire_the_scheduler_already_ran_alone(store: Store) -> None:
    add_schedule(store, "job")
    [scheduled] = fires(store, "job", T0)
    made = ops(store).backfill_runs("job", [T0, T0 + MINUTE], T0 + HOUR, parked=False)
    assert [r.nominal_fire for r in made.created] == [T0 + MINUTE]
    assert store.get_run(scheduled.id) == scheduled  # untouched


def test_backfill_of_an_unknown_schedule_writes_nothing(store: Store) -> None:
    with pytest.raises(ScheduleNotFoundError):
        ops(store).backfill_runs("nope", [T0], T0, parked=False)
    with pytest.raises(InvalidSpecError):
        ops(store).backfill_runs("nope", [datetime(2026, 1, 1)], T0, parked=False)


def test_runs_at_tells_which_fires_have_runs(store: Store) -> None:
    add_schedule(store, "job", next_fire_at=None)
    ops(store).backfill_runs("job", [T0], T0 + HOUR, parked=False)
    got = ops(store).runs_at("job", [T0, T0 + MINUTE])
    assert got == {T0: RunState.queued}


def test_parked_backfill_runs_are_released_one_at_a_time(store: Store) -> None:
    add_schedule(store, "job", next_fire_at=None)
    now = T0 + HOUR
    ops(store).backfill_runs("job", [T0 + 2 * MINUTE, T0, T0 + MINUTE], now, parked=True)
    assert store.claim("w", now, LEASE, 10) == []  # parked: no claim sees them
    assert all(r.due_at == BACKFILL_PARKED for r in runs_of(store, "job"))

    first = ops(store).release_backfill(now, 10)
    assert [r.nominal_fire for r in first.released] == [T0]
    assert first.waiting
    assert ops(store).release_backfill(now, 10).released == ()  # the schedule is busy
    [claimed] = store.claim("w", now, LEASE, 10)
    assert claimed.run.nominal_fire == T0
    assert ops(store).release_backfill(now, 10).released == ()  # still running
    store.finish(claimed.run.id, "w", now + SECOND, Outcome(RunState.succeeded))
    second = ops(store).release_backfill(now + SECOND, 10)
    assert [r.nominal_fire for r in second.released] == [T0 + MINUTE]


def test_a_paused_schedule_keeps_its_backfill_parked(store: Store) -> None:
    add_schedule(store, "job", next_fire_at=None)
    ops(store).backfill_runs("job", [T0], T0 + HOUR, parked=True)
    store.set_paused("job", True, T0 + HOUR)
    assert ops(store).release_backfill(T0 + HOUR, 10).released == ()
    store.set_paused("job", False, T0 + HOUR)
    assert len(ops(store).release_backfill(T0 + HOUR, 10).released) == 1
    assert ops(store).release_backfill(T0 + HOUR, 10).waiting is False


# -- health, failures, pause ---------------------------------------------------------------


def test_final_failures_update_health_and_alert_once(store: Store, backend: Backend) -> None:
    add_schedule(store, "job")
    finish_all(store, "job", T0 + MINUTE, RunState.succeeded)
    failed = finish_all(store, "job", T0 + 3 * MINUTE, RunState.failed)
    until = T0 + HOUR
    report = ops(store).record_finished(until, None, until, pause_after=0, limit=100)
    assert report.scanned == 4
    assert [(a.kind, a.run_id, a.fire) for a in report.alerts] == [
        ("run_failed", r.id, r.nominal_fire) for r in failed
    ]
    assert report.alerts[0].payload["idempotency_key"] == failed[0].idempotency_key
    [health] = ops(store).list_health()
    assert (health.last_success_fire, health.consecutive_failures) == (T0 + MINUTE, 2)

    other = backend.open()  # a second scheduler process looking at the same runs
    try:
        twice = ops(other).record_finished(until, None, until, pause_after=0, limit=100)
    finally:
        other.close()
    assert twice.alerts == ()
    assert twice.scanned == 4
    assert len(ops(store).list_alerts()) == 2


def test_the_cursor_pages_through_finished_runs(store: Store) -> None:
    add_schedule(store, "job")
    finish_all(store, "job", T0 + 4 * MINUTE, RunState.failed)
    until = T0 + HOUR
    first = ops(store).record_finished(until, None, until, pause_after=0, limit=3)
    second = ops(store).record_finished(until, first.cursor, until, pause_after=0, limit=3)
    assert (first.scanned, second.scanned) == (3, 2)
    assert len(first.alerts) + len(second.alerts) == 5
    # Runs finished after ``until`` wait for a later pass.
    early = ops(store).record_finished(until, None, T0 + 2 * MINUTE, pause_after=0, limit=9)
    assert early.scanned == 2


def test_pause_after_failures_in_a_row_once_per_failure(store: Store) -> None:
    add_schedule(store, "job")
    finish_all(store, "job", T0 + 2 * MINUTE, RunState.failed)
    until = T0 + HOUR
    report = ops(store).record_finished(until, None, until, pause_after=3, limit=100)
    assert report.paused == ("job",)
    assert {a.kind for a in report.alerts} == {"run_failed", "paused_on_failure"}
    row = store.get_schedule("job")
    assert row is not None
    assert row.paused
    # Resumed by hand: the same failures do not pause it again ...
    store.set_paused("job", False, until)
    again = ops(store).record_finished(until, None, until, pause_after=3, limit=100)
    assert again.paused == ()
    # ... a newer failure does (still failing: 4 in a row).
    run = store.trigger("job", until)
    [claimed] = store.claim("w", until, LEASE, 1)
    store.finish(claimed.run.id, "w", until + SECOND, Outcome(RunState.timed_out))
    later = until + MINUTE
    third = ops(store).record_finished(later, None, later, pause_after=3, limit=100)
    assert third.paused == ("job",)
    [health] = ops(store).list_health()
    assert health.consecutive_failures == 4
    assert claimed.run.id == run.id


def test_a_success_ends_the_failure_streak(store: Store) -> None:
    add_schedule(store, "job")
    finish_all(store, "job", T0 + MINUTE, RunState.failed)
    finish_all(store, "job", T0 + 2 * MINUTE, RunState.succeeded)
    until = T0 + HOUR
    report = ops(store).record_finished(until, None, until, pause_after=2, limit=100)
    assert report.paused == ()
    [health] = ops(store).list_health()
    assert (health.consecutive_failures, health.last_success_fire) == (0, T0 + 2 * MINUTE)
    assert health.last_success_at == T0 + 2 * MINUTE + SECOND


def test_health_comes_from_the_runs_seen_and_the_history_once(store: Store) -> None:
    """A schedule with no health row gets its last success from the history (it may be
    older than the cursor); after that, from its health row and the runs the cursor passes,
    so a page does not read the history that grows without end."""
    add_schedule(store, "job")
    finish_all(store, "job", T0 + MINUTE, RunState.failed)
    finish_all(store, "job", T0 + 2 * MINUTE, RunState.succeeded)
    failed = finish_all(store, "job", T0 + 3 * MINUTE, RunState.failed)
    until = T0 + HOUR
    # The cursor starts after the success: only the last failure is seen.
    cursor = (failed[0].nominal_fire, failed[0].id - 1)
    report = ops(store).record_finished(until, cursor, until, pause_after=0, limit=100)
    assert report.scanned == 1
    [health] = ops(store).list_health()
    assert (health.last_success_fire, health.last_success_at) == (
        T0 + 2 * MINUTE,
        T0 + 2 * MINUTE + SECOND,
    )
    assert health.consecutive_failures == 1  # the failures before the success do not count
    # Later runs move it on: the newest success among them, the streak after it.
    finish_all(store, "job", T0 + 4 * MINUTE, RunState.succeeded)
    finish_all(store, "job", T0 + 5 * MINUTE, RunState.failed)
    later = ops(store).record_finished(until, report.cursor, until, pause_after=0, limit=100)
    assert later.scanned == 2
    [health] = ops(store).list_health()
    assert (health.last_success_fire, health.consecutive_failures) == (T0 + 4 * MINUTE, 1)


# -- overdue -------------------------------------------------------------------------------


Decider = Callable[[ScheduleRow, datetime | None], tuple[datetime, datetime] | None]


def _late_after(minutes: int, now: datetime) -> Decider:
    """A decider: the first minute after the last success (or T0) is overdue ``minutes``
    later."""

    def decide(row: ScheduleRow, last: datetime | None) -> tuple[datetime, datetime] | None:
        fire = (last or T0) + MINUTE
        since = fire + minutes * MINUTE
        return (fire, since) if now >= since else None

    return decide


def test_overdue_is_stored_alerted_once_and_cleared(store: Store) -> None:
    add_schedule(store, "job")
    add_schedule(store, "quiet")
    store.set_paused("quiet", True, T0)
    now = T0 + 10 * MINUTE
    first = ops(store).check_overdue(now, None, 100, _late_after(5, now))
    assert first.overdue == ("job",)  # paused schedules are never overdue
    assert [(a.kind, a.schedule, a.fire) for a in first.alerts] == [("overdue", "job", T0 + MINUTE)]
    assert first.next_after is None
    [health] = [h for h in ops(store).list_health() if h.schedule == "job"]
    assert (health.overdue_fire, health.overdue_since) == (T0 + MINUTE, T0 + 6 * MINUTE)
    later = now + MINUTE
    again = ops(store).check_overdue(later, None, 100, _late_after(5, later))
    assert again.overdue == ("job",)
    assert again.alerts == ()

    finish_all(store, "job", T0 + 9 * MINUTE, RunState.succeeded)
    cleared = ops(store).check_overdue(later, None, 100, _late_after(5, later))
    assert cleared.cleared == ("job",)
    assert cleared.overdue == ()
    [health] = [h for h in ops(store).list_health() if h.schedule == "job"]
    assert health.overdue_since is None


def test_overdue_pages_through_schedules(store: Store) -> None:
    for name in ("a", "b", "c"):
        add_schedule(store, name)
    now = T0 + HOUR
    first = ops(store).check_overdue(now, None, 2, _late_after(5, now))
    assert first.overdue == ("a", "b")
    assert first.next_after is not None
    second = ops(store).check_overdue(now, first.next_after, 2, _late_after(5, now))
    assert second.overdue == ("c",)
    assert second.next_after is None


def test_list_overdue_is_longest_overdue_first_and_bounded(store: Store) -> None:
    for name in ("a", "b", "c", "fine"):
        add_schedule(store, name)

    def decide(row: ScheduleRow, last: datetime | None) -> tuple[datetime, datetime] | None:
        if row.name == "fine":
            return None
        # c has been overdue longest, then a, then b.
        since = {"c": T0 + MINUTE, "a": T0 + 2 * MINUTE, "b": T0 + 3 * MINUTE}[row.name]
        return (T0, since)

    ops(store).check_overdue(T0 + HOUR, None, 100, decide)
    assert [h.schedule for h in ops(store).list_overdue(10)] == ["c", "a", "b"]
    assert [h.schedule for h in ops(store).list_overdue(2)] == ["c", "a"]
    with pytest.raises(InvalidSpecError) as caught:
        ops(store).list_overdue(0)
    assert caught.value.field == "limit"


# -- alert outbox --------------------------------------------------------------------------


def _two_alerts(store: Store) -> None:
    add_schedule(store, "job")
    finish_all(store, "job", T0 + MINUTE, RunState.failed)
    ops(store).record_finished(T0 + HOUR, None, T0 + HOUR, pause_after=0, limit=100)


def test_claimed_alerts_are_not_claimed_again_until_the_lease_ends(
    store: Store, backend: Backend
) -> None:
    _two_alerts(store)
    now = T0 + HOUR
    first = ops(store).claim_alerts(now, MINUTE, 1)
    other = backend.open()
    try:
        second = ops(other).claim_alerts(now, MINUTE, 5)
    finally:
        other.close()
    assert len(first) == len(second) == 1
    assert first[0].id != second[0].id
    assert first[0].attempts == 1
    assert ops(store).claim_alerts(now, MINUTE, 5) == []
    retaken = ops(store).claim_alerts(now + MINUTE, MINUTE, 5)
    assert sorted(a.attempts for a in retaken) == [2, 2]


def test_delivery_outcomes_are_recorded(store: Store) -> None:
    _two_alerts(store)
    now = T0 + HOUR
    a, b = ops(store).claim_alerts(now, MINUTE, 5)
    ops(store).alert_delivered(a.id, now)
    ops(store).alert_attempt_failed(b.id, now, "HTTP 500", now + 10 * SECOND)
    assert ops(store).claim_alerts(now + 5 * SECOND, MINUTE, 5) == []
    [retry] = ops(store).claim_alerts(now + 10 * SECOND, MINUTE, 5)
    assert retry.id == b.id
    assert retry.last_error == "HTTP 500"
    ops(store).alert_attempt_failed(b.id, now + 11 * SECOND, "HTTP 503", None)
    assert ops(store).claim_alerts(now + HOUR, MINUTE, 5) == []
    by_id = {x.id: x for x in ops(store).list_alerts()}
    assert by_id[a.id].delivered_at == now
    assert (by_id[b.id].failed_at, by_id[b.id].last_error) == (now + 11 * SECOND, "HTTP 503")


# -- retention -----------------------------------------------------------------------------


def _bulk_runs(store: Store, row: ScheduleRow, count: int, state: str) -> None:
    assert isinstance(store, SQLStore)
    rows = [
        {
            "schedule_id": row.id,
            "schedule": row.name,
            "nominal_fire": T0 + i * SECOND,
            "due_at": T0 + i * SECOND,
            "state": state,
            "attempt": 1,
            "max_attempts": 1,
            "kind": "schedule",
            "created_at": T0,
            "finished_at": T0 + i * SECOND if state != "queued" else None,
        }
        for i in range(count)
    ]
    with store._engine.begin() as conn:  # white box: 10^5 runs in one go
        for start in range(0, count, 10_000):
            conn.execute(insert(runs), rows[start : start + 10_000])


def test_prune_of_a_hundred_thousand_runs_keeps_counts(store: Store) -> None:
    a = add_schedule(store, "a", next_fire_at=None)
    b = add_schedule(store, "b", next_fire_at=None)
    _bulk_runs(store, a, 60_000, "succeeded")
    _bulk_runs(store, b, 40_000, "failed")
    waiting = ops(store).backfill_runs("b", [T0 - HOUR], T0, parked=False).created
    before = ops(store).run_totals()
    assert before[RunState.succeeded] == 60_000
    assert before[RunState.failed] == 40_000

    cutoff = T0 + 50_000 * SECOND
    deleted = store.prune(cutoff, batch=5_000)

    assert deleted == 50_000 + 40_000
    assert store.count_runs() == {
        **dict.fromkeys(RunState, 0),
        RunState.succeeded: 10_000,
        RunState.queued: 1,
    }
    assert ops(store).run_totals() == before
    assert ops(store).run_totals("b")[RunState.failed] == 40_000
    assert store.get_run(waiting[0].id) is not None  # waiting runs are never pruned
    assert isinstance(store, SQLStore)
    with store._engine.connect() as conn:
        kept = sorted(conn.execute(select(run_counts)).all())
    assert kept == [("a", "succeeded", 50_000), ("b", "failed", 40_000)]
    assert store.prune(cutoff, batch=5_000) == 0


def test_prune_batch_is_bounded_and_refuses_bad_input(store: Store) -> None:
    row = add_schedule(store, "a", next_fire_at=None)
    _bulk_runs(store, row, 30, "succeeded")
    assert ops(store).prune_batch(T0 + HOUR, 10) == 10
    assert store.count_runs()[RunState.succeeded] == 20
    with pytest.raises(InvalidSpecError):
        ops(store).prune_batch(T0, 0)
    with pytest.raises(InvalidSpecError):
        ops(store).prune_batch(datetime(2026, 1, 1), 10)
    assert store.count_runs()[RunState.succeeded] == 20


def test_schema_revision_is_the_head(store: Store) -> None:
    assert ops(store).schema_revision() == ("0005", "0005")


def test_now_must_be_aware(store: Store) -> None:
    with pytest.raises(InvalidSpecError):
        ops(store).record_finished(datetime(2026, 1, 1), None, T0, pause_after=0, limit=10)
    with pytest.raises(InvalidSpecError):
        ops(store).record_finished(T0, None, T0, pause_after=-1, limit=10)


def test_prune_deletes_alerts_older_than_the_cutoff(store: Store) -> None:
    _two_alerts(store)  # created at T0 + 1 h
    assert ops(store).prune_batch(T0 + HOUR, 100) == 2  # the runs finished before
    assert len(ops(store).list_alerts()) == 2  # created at the cutoff: kept
    ops(store).prune_batch(T0 + HOUR + SECOND, 100)
    assert ops(store).list_alerts() == []


def test_monitors_racing_on_the_same_runs_create_each_alert_once(
    store: Store, backend: Backend
) -> None:
    add_schedule(store, "job")
    finish_all(store, "job", T0 + 9 * MINUTE, RunState.failed)
    until = T0 + HOUR
    others = [backend.open() for _ in range(3)]
    start = threading.Barrier(len(others))
    made: list[int] = []

    def monitor(other: Store) -> None:
        start.wait()
        report = ops(other).record_finished(until, None, until, pause_after=5, limit=100)
        made.extend(alert.id for alert in report.alerts)

    threads = [threading.Thread(target=monitor, args=(o,)) for o in others]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    finally:
        for o in others:
            o.close()
    kinds = sorted(a.kind for a in ops(store).list_alerts())
    assert kinds == ["paused_on_failure"] + ["run_failed"] * 10
    assert sorted(made) == sorted(a.id for a in ops(store).list_alerts())  # each once
