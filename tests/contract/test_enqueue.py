"""enqueue_due (fires to runs), trigger and next_wakeup."""

from __future__ import annotations

from datetime import datetime

import pytest

from tickwork import events
from tickwork.errors import InvalidSpecError, ScheduleNotFoundError
from tickwork.model import RunState, ScheduleRow
from tickwork.store import Store
from tickwork.store.base import FireDecision, ScheduleUpsert
from tickwork.store.sql import SQLStore

from .conftest import LEASE, MINUTE, T0, add_schedule, deciding, event_names, minutely, runs_of

SECOND = MINUTE / 60


def test_enqueue_due_persists_the_planners_decision_exactly(store: Store) -> None:
    row = add_schedule(store, "nightly", next_fire_at=T0 - 2 * MINUTE)
    now = T0 + 3 * SECOND
    seen: list[tuple[ScheduleRow, datetime]] = []
    decision = FireDecision(
        queue=[(T0, T0 + 5 * SECOND)],
        miss=[T0 - 2 * MINUTE, T0 - MINUTE],
        next_fire_at=T0 + MINUTE,
        last_fire_at=T0,
        max_attempts=3,
        reason="scheduler down",
    )

    def plan(row: ScheduleRow, at: datetime) -> FireDecision:
        seen.append((row, at))
        return decision

    result = store.enqueue_due(now, 10, plan)

    assert seen == [(row, now)]  # the row as read, and now
    assert (result.schedules, result.missed, result.skipped, result.conflicts) == (1, 2, 0, 0)
    missed_a, missed_b, queued = runs_of(store, "nightly")
    assert result.queued == (queued,)
    assert (queued.nominal_fire, queued.due_at, queued.state) == (
        T0,
        T0 + 5 * SECOND,
        RunState.queued,
    )
    assert (queued.attempt, queued.max_attempts, queued.kind) == (0, 3, "schedule")
    assert (queued.created_at, queued.started_at, queued.finished_at) == (now, None, None)
    assert (queued.lease_owner, queued.lease_expires_at, queued.error) == (None, None, None)
    assert (queued.schedule_id, queued.idempotency_key) == (
        row.id,
        "nightly@2026-01-01T00:00:00+00:00",
    )
    for missed, nominal in ((missed_a, T0 - 2 * MINUTE), (missed_b, T0 - MINUTE)):
        assert (missed.state, missed.nominal_fire, missed.due_at) == (
            RunState.missed,
            nominal,
            nominal,
        )
        assert (missed.finished_at, missed.error, missed.attempt) == (now, "scheduler down", 0)
        [event] = store.run_events(missed.id)
        assert (event.event, event.state, event.at, event.detail) == (
            events.RUN_MISSED,
            RunState.missed,
            now,
            {"reason": "scheduler down"},
        )
    [event] = store.run_events(queued.id)
    assert (event.event, event.state, event.attempt, event.at) == (
        events.RUN_ENQUEUED,
        RunState.queued,
        0,
        now,
    )
    advanced = store.get_schedule("nightly")
    assert advanced is not None
    assert (advanced.next_fire_at, advanced.last_fire_at) == (T0 + MINUTE, T0)
    assert advanced.version == row.version  # bookkeeping, not a definition change


def test_only_due_active_schedules_are_planned_oldest_first_up_to_the_limit(
    store: Store,
) -> None:
    for name, at in [
        ("c", T0),
        ("a", T0 - 2 * MINUTE),
        ("b", T0 - MINUTE),
        ("future", T0 + SECOND),
        ("finished", None),
        ("retired", T0 - 5 * MINUTE),
    ]:
        add_schedule(store, name, next_fire_at=at, source="config" if name == "retired" else "code")
    store.sync_schedules([], "config", T0)  # retires "retired"
    planned: list[str] = []

    def plan(row: ScheduleRow, now: datetime) -> FireDecision:
        planned.append(row.name)
        return FireDecision(next_fire_at=T0 + MINUTE)

    assert store.enqueue_due(T0, 2, plan).schedules == 2
    assert planned == ["a", "b"]
    assert store.enqueue_due(T0, 10, plan).schedules == 1
    assert planned == ["a", "b", "c"]
    assert store.enqueue_due(T0, 10, plan).schedules == 0


def test_a_second_run_for_the_same_fire_is_a_conflict_not_a_row(store: Store) -> None:
    add_schedule(store, "a")
    store.enqueue_due(T0, 10, minutely)
    # The schedule is redefined to fire at T0 again: its fire at T0 already has a run.
    add_schedule(store, "a", next_fire_at=T0, hour=0, now=T0 + SECOND)
    decision = FireDecision(
        queue=[(T0, T0)], miss=[T0], skip=[T0], next_fire_at=T0 + MINUTE, last_fire_at=T0
    )

    result = store.enqueue_due(T0 + SECOND, 10, deciding(decision))

    assert (result.queued, result.missed, result.skipped, result.conflicts) == ((), 0, 0, 3)
    [run] = runs_of(store, "a")
    assert event_names(store, run) == [events.RUN_ENQUEUED]  # no event for a conflict
    row = store.get_schedule("a")
    assert row is not None
    assert row.next_fire_at == T0 + MINUTE  # still advanced


def test_the_advance_is_conditional_on_the_next_fire_read(store: Store) -> None:
    row = add_schedule(store, "a")
    store.enqueue_due(T0, 10, minutely)  # another scheduler got there first
    assert store.enqueue_due(T0, 10, minutely).schedules == 0  # nothing due any more

    # White box: what the second scheduler's update does with the row as it had read it.
    assert isinstance(store, SQLStore)
    with store._transaction("test", write=True) as conn:
        decision = FireDecision(next_fire_at=T0 + 5 * MINUTE, last_fire_at=T0)
        assert store._advance(conn, row, decision) is False
    current = store.get_schedule("a")
    assert current is not None
    assert current.next_fire_at == T0 + MINUTE


def test_a_paused_schedule_is_planned_and_its_fires_recorded_skipped(store: Store) -> None:
    add_schedule(store, "a")
    store.set_paused("a", True, T0)

    result = store.enqueue_due(T0 + MINUTE, 10, minutely)

    assert (result.schedules, result.queued, result.skipped) == (1, (), 2)
    skipped = runs_of(store, "a")
    assert [(r.nominal_fire, r.state, r.finished_at, r.error) for r in skipped] == [
        (T0, RunState.skipped, T0 + MINUTE, "paused"),
        (T0 + MINUTE, RunState.skipped, T0 + MINUTE, "paused"),
    ]
    assert [event_names(store, r) for r in skipped] == [[events.RUN_SKIPPED]] * 2


def test_a_schedule_without_next_fire_is_never_due(store: Store) -> None:
    add_schedule(store, "once")
    decision = FireDecision(queue=[(T0, T0)], next_fire_at=None, last_fire_at=T0)
    store.enqueue_due(T0, 10, deciding(decision))

    assert store.enqueue_due(T0 + 1000 * MINUTE, 10, minutely).schedules == 0
    row = store.get_schedule("once")
    assert row is not None
    assert (row.next_fire_at, row.last_fire_at) == (None, T0)


def test_enqueue_due_is_one_transaction(store: Store) -> None:
    add_schedule(store, "a", next_fire_at=T0 - MINUTE)
    add_schedule(store, "b")

    def plan(row: ScheduleRow, now: datetime) -> FireDecision:
        if row.name == "b":
            raise RuntimeError("planner bug")
        return minutely(row, now)

    with pytest.raises(RuntimeError, match="planner bug"):
        store.enqueue_due(T0, 10, plan)

    assert runs_of(store) == []
    a = store.get_schedule("a")
    assert a is not None
    assert a.next_fire_at == T0 - MINUTE


def test_a_naive_instant_from_the_planner_writes_nothing(store: Store) -> None:
    add_schedule(store, "a")
    naive = T0.replace(tzinfo=None)
    decision = FireDecision(queue=[(naive, naive)], next_fire_at=T0 + MINUTE)

    with pytest.raises(ValueError, match="naive"):
        store.enqueue_due(T0, 10, deciding(decision))

    assert runs_of(store) == []
    a = store.get_schedule("a")
    assert a is not None
    assert a.next_fire_at == T0


# -- trigger ----------------------------------------------------------------------------------


def test_trigger_queues_a_manual_run_due_now(store: Store) -> None:
    row = add_schedule(store, "a", next_fire_at=T0 + 60 * MINUTE, retries=2)
    now = T0 + 7 * SECOND

    run = store.trigger("a", now)

    assert (run.schedule, run.schedule_id, run.nominal_fire, run.due_at) == ("a", row.id, now, now)
    assert (run.state, run.kind, run.attempt, run.max_attempts) == (
        RunState.queued,
        "manual",
        0,
        3,
    )
    [event] = store.run_events(run.id)
    assert (event.event, event.state, event.at, event.detail) == (
        events.RUN_TRIGGERED,
        RunState.queued,
        now,
        {"kind": "manual"},
    )
    assert store.get_schedule("a") == row  # the schedule itself does not move
    assert store.trigger("a", now, kind="backfill").kind == "backfill"


def test_triggers_at_one_instant_get_distinct_nominal_fires(store: Store) -> None:
    add_schedule(store, "a")
    [fire] = store.enqueue_due(T0, 10, minutely).queued

    first = store.trigger("a", T0)
    second = store.trigger("a", T0)

    assert fire.nominal_fire == T0
    assert (first.nominal_fire, second.nominal_fire) == (T0 + SECOND / 1e6, T0 + SECOND / 5e5)
    assert first.due_at == second.due_at == T0


def test_a_paused_schedule_can_be_triggered(store: Store) -> None:
    add_schedule(store, "a")
    store.set_paused("a", True, T0)
    assert store.trigger("a", T0).state is RunState.queued


@pytest.mark.parametrize("name", ["nope", "retired"])
def test_triggering_an_unknown_or_retired_schedule_raises_and_writes_nothing(
    store: Store, name: str
) -> None:
    store.sync_schedules([ScheduleUpsert("retired", {}, T0, T0)], "api", T0)
    store.sync_schedules([], "api", T0)

    with pytest.raises(ScheduleNotFoundError) as caught:
        store.trigger(name, T0)

    assert caught.value.name == name
    assert runs_of(store) == []


def test_trigger_refuses_an_empty_kind(store: Store) -> None:
    add_schedule(store, "a")
    with pytest.raises(InvalidSpecError):
        store.trigger("a", T0, kind="")
    assert runs_of(store) == []


# -- next_wakeup -------------------------------------------------------------------------------


def test_next_wakeup_of_an_empty_store_is_none(store: Store) -> None:
    assert store.next_wakeup(T0) is None


def test_next_wakeup_is_the_earliest_next_fire_or_waiting_due(store: Store) -> None:
    add_schedule(store, "later", next_fire_at=T0 + 30 * MINUTE)
    add_schedule(store, "paused", next_fire_at=T0 + 20 * MINUTE)
    store.set_paused("paused", True, T0)  # its fires will be recorded: still a wake-up
    add_schedule(store, "old", next_fire_at=T0 - 60 * MINUTE, source="config")
    store.sync_schedules([], "config", T0)  # retired: ignored
    assert store.next_wakeup(T0) == T0 + 20 * MINUTE

    add_schedule(store, "soon", next_fire_at=T0 + 10 * MINUTE)
    store.enqueue_due(T0 + 10 * MINUTE, 10, minutely)  # "soon" -> queued run due T0+10m
    assert store.next_wakeup(T0) == T0 + 10 * MINUTE

    [claimed] = store.claim("w1", T0 + 10 * MINUTE, LEASE, 10)  # running runs do not count
    assert store.next_wakeup(T0) == T0 + 11 * MINUTE  # "soon" fires again then

    store.trigger("later", T0 + 5 * MINUTE)
    assert store.next_wakeup(T0) == T0 + 5 * MINUTE
    assert claimed.run.schedule == "soon"


def test_next_wakeup_asked_for_fires_or_runs_alone_leaves_the_other_out(store: Store) -> None:
    add_schedule(store, "soon", next_fire_at=T0 + 10 * MINUTE)
    add_schedule(store, "later", next_fire_at=T0 + 30 * MINUTE)
    store.enqueue_due(T0 + 10 * MINUTE, 10, minutely)  # a queued run due T0+10m; next T0+11m
    store.trigger("later", T0 + 5 * MINUTE)  # a queued run due T0+5m
    assert store.next_wakeup(T0) == T0 + 5 * MINUTE
    assert store.next_wakeup(T0, fires=False) == T0 + 5 * MINUTE  # waiting runs only
    assert store.next_wakeup(T0, runs=False) == T0 + 11 * MINUTE  # a scheduler alone
    assert store.next_wakeup(T0, fires=False, runs=False) is None
    assert len(store.claim("w1", T0 + 10 * MINUTE, LEASE, 10)) == 2
    assert store.next_wakeup(T0, fires=False) is None  # no waiting run left
    assert store.next_wakeup(T0, runs=False) == T0 + 11 * MINUTE


def test_a_pass_stops_before_the_fire_limit_and_leaves_the_rest_due(store: Store) -> None:
    for name in ("a", "b", "c"):  # five minutely fires due each, T0 - 4 min .. T0
        add_schedule(store, name, next_fire_at=T0 - 4 * MINUTE)

    first = store.enqueue_due(T0, 10, minutely, fire_limit=12)

    # a and b make 10 fires; c's five would pass 12: c is left as it was, for a later pass.
    assert (first.schedules, len(first.queued)) == (2, 10)
    c = store.get_schedule("c")
    assert c is not None
    assert (c.next_fire_at, c.last_fire_at) == (T0 - 4 * MINUTE, None)
    assert runs_of(store, "c") == []
    second = store.enqueue_due(T0, 10, minutely, fire_limit=12)
    assert (second.schedules, len(second.queued)) == (1, 5)
    assert {r.schedule for r in second.queued} == {"c"}


def test_a_schedule_alone_over_the_fire_limit_is_still_handled(store: Store) -> None:
    add_schedule(store, "a", next_fire_at=T0 - 9 * MINUTE)  # ten fires due
    add_schedule(store, "b", next_fire_at=T0)

    result = store.enqueue_due(T0, 10, minutely, fire_limit=3)

    # The first schedule of a pass always goes (a pass must make progress); none after it.
    assert (result.schedules, len(result.queued)) == (1, 10)
    assert {r.schedule for r in result.queued} == {"a"}
    assert store.enqueue_due(T0, 10, minutely, fire_limit=3).schedules == 1  # then b


def test_a_fire_limit_below_one_is_refused(store: Store) -> None:
    add_schedule(store, "a")

    with pytest.raises(InvalidSpecError, match="fire_limit"):
        store.enqueue_due(T0, 10, minutely, fire_limit=0)

    assert runs_of(store) == []
