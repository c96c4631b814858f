"""``finish_many``: many results in one transaction, each fenced on its own lease;
``finish_and_claim``: those results and the next claim in one transaction; and the skip-only
claim pass (``limit=0``) visiting only schedules it can skip a fire of."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tickwork import events
from tickwork.errors import InvalidSpecError
from tickwork.model import Outcome, Run, RunState
from tickwork.store import Store
from tickwork.store.base import BatchFinishingStore, FinishItem

from .conftest import LEASE, MINUTE, T0, add_schedule, event_names, fires, runs_of

SECOND = timedelta(seconds=1)
DONE = Outcome(RunState.succeeded, duration=SECOND)
FAILED = Outcome(RunState.failed, error="boom")


def _batching(store: Store) -> BatchFinishingStore:
    assert isinstance(store, BatchFinishingStore)
    return store


def _claim_three(store: Store) -> tuple[Run, Run, Run]:
    """Runs of three schedules: two leased to w1, one to w2."""
    for name in ("a", "b", "c"):
        add_schedule(store, name)
    fires(store, "a", T0)
    first = [c.run for c in store.claim("w1", T0, LEASE, 2)]
    second = [c.run for c in store.claim("w2", T0, LEASE, 1)]
    assert len(first) == 2
    assert len(second) == 1
    return first[0], first[1], second[0]


def _get(store: Store, run: Run) -> Run:
    found = store.get_run(run.id)
    assert found is not None
    return found


def test_finish_many_writes_each_result_whose_lease_holds(store: Store) -> None:
    one, two, other = _claim_three(store)
    now = T0 + 5 * SECOND
    items = [
        FinishItem(one.id, DONE),
        FinishItem(other.id, DONE),  # w2's lease: the fence refuses it
        FinishItem(two.id, FAILED, retry_at=T0 + MINUTE),
    ]

    assert _batching(store).finish_many("w1", now, items) == [True, False, True]

    assert (_get(store, one).state, _get(store, one).finished_at) == (RunState.succeeded, now)
    retrying = _get(store, two)
    assert (retrying.state, retrying.due_at, retrying.error) == (
        RunState.retrying,
        T0 + MINUTE,
        "boom",
    )
    untouched = _get(store, other)
    assert (untouched.state, untouched.lease_owner) == (RunState.running, "w2")
    assert event_names(store, one)[-1] == events.RUN_SUCCEEDED
    assert event_names(store, two)[-1] == events.RUN_RETRY_SCHEDULED
    assert event_names(store, other)[-1] == events.RUN_CLAIMED
    last = store.run_events(one.id)[-1]
    assert (last.attempt, last.at, last.detail) == (
        1,
        now,
        {"outcome": "succeeded", "duration_s": 1.0},
    )


def test_finish_many_with_bad_input_writes_nothing(store: Store) -> None:
    one, two, _other = _claim_three(store)
    items = [FinishItem(one.id, DONE), FinishItem(two.id, Outcome(RunState.queued))]

    with pytest.raises(InvalidSpecError, match=r"outcome\.state"):
        _batching(store).finish_many("w1", T0 + SECOND, items)
    with pytest.raises(InvalidSpecError, match="now"):
        _batching(store).finish_many("w1", datetime(2026, 1, 1), [FinishItem(one.id, DONE)])

    assert {_get(store, one).state, _get(store, two).state} == {RunState.running}
    assert event_names(store, one)[-1] == events.RUN_CLAIMED


def test_finish_many_of_nothing_is_nothing(store: Store) -> None:
    assert _batching(store).finish_many("w1", T0, []) == []


def test_finish_and_claim_writes_the_results_and_claims_in_one_transaction(
    store: Store,
) -> None:
    one, two, other = _claim_three(store)
    assert (one.schedule, two.schedule, other.schedule) == ("a", "b", "c")
    fires(store, "a", T0 + MINUTE)  # the next fires of a, b and c are due
    now = T0 + MINUTE
    items = [FinishItem(one.id, DONE), FinishItem(other.id, DONE)]  # other: w2's lease

    written, claimed = _batching(store).finish_and_claim("w1", now, items, LEASE, 5)

    assert written == [True, False]
    assert _get(store, one).state is RunState.succeeded
    assert _get(store, other).lease_owner == "w2"
    # a's run is finished in the same transaction, so its next fire is not behind a
    # running run ("skip" would have skipped it): it starts.
    assert [(c.run.schedule, c.run.nominal_fire) for c in claimed] == [("a", now)]
    assert claimed[0].run.lease_owner == "w1"
    assert _get(store, two).state is RunState.running  # b's was not in the batch


def test_finish_and_claim_with_bad_input_writes_and_claims_nothing(store: Store) -> None:
    one, _two, _other = _claim_three(store)
    fires(store, "a", T0 + MINUTE)
    bad = [FinishItem(one.id, DONE), FinishItem(one.id + 1000, Outcome(RunState.running))]

    with pytest.raises(InvalidSpecError, match=r"outcome\.state"):
        _batching(store).finish_and_claim("w1", T0 + MINUTE, bad, LEASE, 5)
    with pytest.raises(InvalidSpecError, match="lease"):
        _batching(store).finish_and_claim(
            "w1", T0 + MINUTE, [FinishItem(one.id, DONE)], timedelta(0), 5
        )

    assert _get(store, one).state is RunState.running
    assert [r.state for r in runs_of(store, "a")][-1] is RunState.queued


def test_finish_and_claim_without_results_is_a_claim(store: Store) -> None:
    add_schedule(store, "a")
    fires(store, "a", T0)
    written, claimed = _batching(store).finish_and_claim("w1", T0, [], LEASE, 1)
    assert written == []
    assert [c.run.schedule for c in claimed] == ["a"]


def test_finish_is_a_batch_of_one(store: Store) -> None:
    one, _two, other = _claim_three(store)
    assert store.finish(one.id, "w1", T0 + SECOND, DONE)
    assert not store.finish(other.id, "w1", T0 + SECOND, DONE)
    assert _get(store, other).state is RunState.running


def test_a_claim_without_room_skips_a_burst_of_an_idle_schedule(store: Store) -> None:
    # Two fires of an idle "skip" schedule: the newer is skipped even when no slot is free.
    add_schedule(store, "burst")
    fires(store, "burst", T0 + MINUTE)
    assert store.claim("w1", T0 + MINUTE, LEASE, 0) == []
    assert [r.state for r in runs_of(store, "burst")] == [RunState.queued, RunState.skipped]


def test_a_claim_without_room_leaves_lone_fires_of_idle_schedules_waiting(store: Store) -> None:
    # decide_overlap starts a lone fire of an idle schedule: nothing to decide without room.
    for name in ("a", "b"):
        add_schedule(store, name)
    fires(store, "a", T0)
    assert store.claim("w1", T0, LEASE, 0) == []
    assert [r.state for r in runs_of(store)] == [RunState.queued, RunState.queued]
    assert {event_names(store, r)[-1] for r in runs_of(store)} == {events.RUN_ENQUEUED}


def test_a_claim_without_room_skips_a_fire_behind_a_running_run(store: Store) -> None:
    add_schedule(store, "busy")
    fires(store, "busy", T0)
    [running] = store.claim("w1", T0, LEASE, 1)
    fires(store, "busy", T0 + MINUTE)
    assert store.claim("w1", T0 + MINUTE, LEASE, 0) == []
    states = [(r.nominal_fire, r.state) for r in runs_of(store, "busy")]
    assert states == [(T0, RunState.running), (T0 + MINUTE, RunState.skipped)]
    assert running.run.nominal_fire == T0.astimezone(UTC)
