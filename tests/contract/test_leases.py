"""A worker's writes: finish, extend_lease and release, all fenced; reclaim_expired."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tickwork import events
from tickwork.errors import InvalidSpecError
from tickwork.model import ClaimedRun, Outcome, Run, RunState
from tickwork.store import Store

from .conftest import LEASE, MINUTE, T0, add_schedule, event_names, fires, runs_of

SECOND = timedelta(seconds=1)
DONE = Outcome(RunState.succeeded, exit_code=0, output="ok\n", duration=2 * SECOND)


def _claimed(store: Store, *, retries: int = 0, worker: str = "w1") -> ClaimedRun:
    add_schedule(store, "a", retries=retries)
    fires(store, "a", T0)
    [claimed] = store.claim(worker, T0, LEASE, 1)
    return claimed


def _get(store: Store, run: Run) -> Run:
    found = store.get_run(run.id)
    assert found is not None
    return found


@pytest.mark.parametrize(
    ("state", "event"),
    [
        (RunState.succeeded, events.RUN_SUCCEEDED),
        (RunState.failed, events.RUN_FAILED),
        (RunState.timed_out, events.RUN_TIMED_OUT),
        (RunState.cancelled, events.RUN_CANCELLED),
    ],
)
def test_finish_records_the_outcome(store: Store, state: RunState, event: str) -> None:
    claimed = _claimed(store)
    now = T0 + 5 * SECOND
    outcome = Outcome(state, exit_code=3, error="why", output="out", duration=2 * SECOND)

    assert store.finish(claimed.run.id, "w1", now, outcome)

    run = _get(store, claimed.run)
    assert (run.state, run.finished_at, run.exit_code, run.error, run.output) == (
        state,
        now,
        3,
        "why",
        "out",
    )
    assert (run.lease_owner, run.lease_expires_at, run.attempt) == (None, None, 1)
    last = store.run_events(run.id)[-1]
    assert (last.event, last.state, last.attempt, last.at) == (event, state, 1, now)
    assert last.detail == {
        "outcome": state.value,
        "duration_s": 2.0,
        "exit_code": 3,
        "error": "why",
    }  # each attempt's error stays in its event


def test_finish_with_retry_at_schedules_the_next_attempt(store: Store) -> None:
    claimed = _claimed(store, retries=2)
    now, retry_at = T0 + 5 * SECOND, T0 + MINUTE
    failed = Outcome(RunState.failed, exit_code=1, error="Traceback...", output="partial")

    assert store.finish(claimed.run.id, "w1", now, failed, retry_at=retry_at)

    run = _get(store, claimed.run)
    assert (run.state, run.due_at, run.finished_at, run.attempt) == (
        RunState.retrying,
        retry_at,
        None,
        1,
    )
    assert (run.lease_owner, run.lease_expires_at) == (None, None)
    assert (run.exit_code, run.error, run.output) == (1, "Traceback...", "partial")
    last = store.run_events(run.id)[-1]
    assert (last.event, last.state, last.attempt) == (
        events.RUN_RETRY_SCHEDULED,
        RunState.retrying,
        1,
    )
    assert last.detail["retry_at"] == retry_at.isoformat()
    assert store.claim("w2", retry_at - SECOND, LEASE, 1) == []  # not due before retry_at
    [again] = store.claim("w2", retry_at, LEASE, 1)
    assert (again.run.id, again.run.attempt, again.run.started_at) == (run.id, 2, retry_at)


@pytest.mark.parametrize("state", [RunState.queued, RunState.skipped, RunState.retrying])
def test_finish_refuses_a_state_that_is_not_an_outcome(store: Store, state: RunState) -> None:
    claimed = _claimed(store)
    with pytest.raises(InvalidSpecError):
        store.finish(claimed.run.id, "w1", T0, Outcome(state))
    assert _get(store, claimed.run) == claimed.run


def test_extend_lease_moves_the_expiry_without_an_event(store: Store) -> None:
    claimed = _claimed(store)
    before = event_names(store, claimed.run)

    assert store.extend_lease(claimed.run.id, "w1", T0 + 20 * SECOND, LEASE)

    run = _get(store, claimed.run)
    assert run.lease_expires_at == T0 + 20 * SECOND + LEASE
    assert (run.state, run.lease_owner, run.attempt) == (RunState.running, "w1", 1)
    assert event_names(store, run) == before


def test_release_gives_the_run_back(store: Store) -> None:
    claimed = _claimed(store)
    now = T0 + 10 * SECOND

    assert store.release(claimed.run.id, "w1", now)

    run = _get(store, claimed.run)
    assert (run.state, run.due_at, run.attempt, run.started_at) == (RunState.queued, now, 0, None)
    assert (run.lease_owner, run.lease_expires_at) == (None, None)
    last = store.run_events(run.id)[-1]
    assert (last.event, last.state, last.attempt) == (events.RUN_RELEASED, RunState.queued, 0)
    [again] = store.claim("w2", now, LEASE, 1)
    assert (again.run.id, again.run.attempt) == (run.id, 1)


# -- fencing ---------------------------------------------------------------------------------

WRITES = {
    "finish": lambda s, run_id, w: s.finish(run_id, w, T0 + SECOND, DONE),
    "retry": lambda s, run_id, w: s.finish(run_id, w, T0 + SECOND, DONE, retry_at=T0 + MINUTE),
    "extend_lease": lambda s, run_id, w: s.extend_lease(run_id, w, T0 + SECOND, LEASE),
    "release": lambda s, run_id, w: s.release(run_id, w, T0 + SECOND),
}


@pytest.mark.parametrize("write", list(WRITES))
def test_a_write_by_another_worker_is_refused_and_writes_nothing(store: Store, write: str) -> None:
    claimed = _claimed(store)
    before = (_get(store, claimed.run), store.run_events(claimed.run.id))

    assert WRITES[write](store, claimed.run.id, "w2") is False

    assert (_get(store, claimed.run), store.run_events(claimed.run.id)) == before


@pytest.mark.parametrize("write", list(WRITES))
def test_a_write_after_the_lease_was_reclaimed_is_refused(store: Store, write: str) -> None:
    claimed = _claimed(store, retries=1)
    store.reclaim_expired(T0 + LEASE + SECOND, 10)
    [taken] = store.claim("w2", T0 + LEASE + SECOND, LEASE, 1)  # the next attempt
    before = (_get(store, claimed.run), store.run_events(claimed.run.id))

    assert WRITES[write](store, claimed.run.id, "w1") is False

    assert (_get(store, claimed.run), store.run_events(claimed.run.id)) == before
    assert (taken.run.id, taken.run.attempt, taken.run.lease_owner) == (claimed.run.id, 2, "w2")


@pytest.mark.parametrize("write", list(WRITES))
def test_a_write_to_a_finished_or_unknown_run_is_refused(store: Store, write: str) -> None:
    claimed = _claimed(store)
    assert store.finish(claimed.run.id, "w1", T0 + SECOND, DONE)
    before = _get(store, claimed.run)

    assert WRITES[write](store, claimed.run.id, "w1") is False
    assert WRITES[write](store, 9999, "w1") is False

    assert _get(store, claimed.run) == before


# -- reclaim_expired -------------------------------------------------------------------------


def test_an_expired_lease_with_attempts_left_goes_back_to_queued(store: Store) -> None:
    claimed = _claimed(store, retries=1)
    now = T0 + LEASE + SECOND

    [reclaimed] = store.reclaim_expired(now, 10)

    assert reclaimed == _get(store, claimed.run)
    assert (reclaimed.state, reclaimed.due_at, reclaimed.attempt) == (RunState.queued, now, 1)
    assert (reclaimed.lease_owner, reclaimed.lease_expires_at, reclaimed.finished_at) == (
        None,
        None,
        None,
    )
    last = store.run_events(reclaimed.id)[-1]
    assert (last.event, last.state, last.attempt) == (
        events.RUN_LEASE_EXPIRED,
        RunState.queued,
        1,
    )
    assert last.detail == {"worker": "w1", "lease_expires_at": (T0 + LEASE).isoformat()}
    [again] = store.claim("w2", now, LEASE, 1)
    assert (again.run.id, again.run.attempt) == (claimed.run.id, 2)


def test_an_expired_lease_without_attempts_left_fails_the_run(store: Store) -> None:
    claimed = _claimed(store, retries=0)
    now = T0 + LEASE + SECOND

    [reclaimed] = store.reclaim_expired(now, 10)

    assert reclaimed.id == claimed.run.id
    assert (reclaimed.state, reclaimed.finished_at, reclaimed.error) == (
        RunState.failed,
        now,
        "lease expired: worker lost",
    )
    assert (reclaimed.lease_owner, reclaimed.lease_expires_at) == (None, None)
    assert event_names(store, reclaimed)[-1] == events.RUN_LEASE_EXPIRED


def test_reclaim_takes_only_leases_expired_before_now_up_to_limit(store: Store) -> None:
    add_schedule(store, "a", overlap="allow", retries=1)
    fires(store, "a", T0 + 2 * MINUTE)
    for minute in range(3):  # leases expiring at T0+30s, T0+1m30s, T0+2m30s
        store.claim(f"w{minute}", T0 + minute * MINUTE, LEASE, 1)

    assert store.reclaim_expired(T0 + LEASE, 10) == []  # expiring exactly now: still held
    first = store.reclaim_expired(T0 + 3 * MINUTE, 1)
    rest = store.reclaim_expired(T0 + 3 * MINUTE, 10)

    assert [r.nominal_fire for r in first] == [T0]  # oldest expiry first
    assert [r.nominal_fire for r in rest] == [T0 + MINUTE, T0 + 2 * MINUTE]
    assert store.reclaim_expired(T0 + 3 * MINUTE, 10) == []
    assert {r.state for r in runs_of(store, "a")} == {RunState.queued}


def test_a_heartbeat_keeps_a_lease_from_being_reclaimed(store: Store) -> None:
    claimed = _claimed(store)
    assert store.extend_lease(claimed.run.id, "w1", T0 + 20 * SECOND, LEASE)
    assert store.reclaim_expired(T0 + LEASE + SECOND, 10) == []
    assert _get(store, claimed.run).state is RunState.running
