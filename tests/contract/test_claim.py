"""claim: ordering, leases, attempts, and each overlap policy applied in the claim."""

from __future__ import annotations

import pytest

from tickwork import events
from tickwork.errors import InvalidSpecError
from tickwork.model import Outcome, Run, RunState
from tickwork.store import Store

from .conftest import (
    LEASE,
    MINUTE,
    T0,
    add_schedule,
    count_statements,
    event_names,
    fires,
    minutely,
    runs_of,
    state_of,
)

Q, R, S, C = RunState.queued, RunState.running, RunState.skipped, RunState.cancelled
SKIPPED = "overlap: another run of this schedule is running or starting"
CANCELLED = "cancelled by a newer fire (overlap cancel_other)"


def test_claim_leases_the_oldest_due_runs_first(store: Store) -> None:
    add_schedule(store, "a", next_fire_at=T0 - MINUTE, overlap="allow")
    add_schedule(store, "b", next_fire_at=T0 - 2 * MINUTE, overlap="allow")
    add_schedule(store, "c", next_fire_at=T0 + MINUTE, overlap="allow")  # not due
    store.enqueue_due(T0, 10, minutely)  # b@-2m, a@-1m, b@-1m, a@0, b@0

    first = store.claim("w1", T0, LEASE, 2)
    assert [(c.run.schedule, c.run.nominal_fire) for c in first] == [
        ("b", T0 - 2 * MINUTE),
        ("b", T0 - MINUTE),  # grouped by schedule, visited by oldest due
    ]
    rest = store.claim("w2", T0, LEASE, 10)
    assert [(c.run.schedule, c.run.nominal_fire) for c in rest] == [
        ("a", T0 - MINUTE),  # now the schedule with the oldest due run
        ("a", T0),
        ("b", T0),
    ]
    assert store.claim("w3", T0, LEASE, 10) == []


def test_a_claimed_run_is_running_with_a_lease_and_its_definition(store: Store) -> None:
    row = add_schedule(store, "a", tz="Europe/Berlin")
    [queued] = fires(store, "a", T0)
    now = T0 + MINUTE / 2

    [claimed] = store.claim("w1", now, LEASE, 5)

    run = claimed.run
    assert claimed.spec == row.spec
    assert (run.id, run.state, run.lease_owner, run.lease_expires_at) == (
        queued.id,
        R,
        "w1",
        now + LEASE,
    )
    assert (run.attempt, run.started_at, run.finished_at) == (1, now, None)
    assert store.get_run(run.id) == run
    claimed_event = store.run_events(run.id)[-1]
    assert (claimed_event.event, claimed_event.state, claimed_event.attempt) == (
        events.RUN_CLAIMED,
        R,
        1,
    )
    assert claimed_event.detail["worker"] == "w1"


def test_claim_takes_only_due_runs_and_at_most_limit(store: Store) -> None:
    add_schedule(store, "a", overlap="allow")
    fires(store, "a", T0 + 4 * MINUTE)

    assert len(store.claim("w1", T0 + 2 * MINUTE, LEASE, 10)) == 3
    assert len(store.claim("w1", T0 + 4 * MINUTE, LEASE, 1)) == 1
    assert store.claim("w1", T0 + 4 * MINUTE, LEASE, 0) == []
    assert [r.state for r in runs_of(store, "a")] == [R, R, R, R, Q]


def test_claim_refuses_a_lease_that_is_not_positive(store: Store) -> None:
    add_schedule(store, "a")
    fires(store, "a", T0)
    with pytest.raises(InvalidSpecError):
        store.claim("w1", T0, LEASE * 0, 1)
    assert [r.state for r in runs_of(store, "a")] == [Q]


# Each case: a schedule with a running run (busy) or none (idle), then three new fires due.
# Expected: the states of [earlier run (busy only), fire 1, fire 2, fire 3] after one claim.
OVERLAP_CASES = [
    pytest.param("skip", True, [R, S, S, S], id="skip-busy"),
    pytest.param("skip", False, [R, S, S], id="skip-idle"),
    pytest.param("buffer_one", True, [R, Q, S, S], id="buffer_one-busy"),
    pytest.param("buffer_one", False, [R, Q, S], id="buffer_one-idle"),
    pytest.param("buffer_all", True, [R, Q, Q, Q], id="buffer_all-busy"),
    pytest.param("buffer_all", False, [R, Q, Q], id="buffer_all-idle"),
    pytest.param("cancel_other", True, [C, S, S, R], id="cancel_other-busy"),
    pytest.param("cancel_other", False, [S, S, R], id="cancel_other-idle"),
    pytest.param("allow", True, [R, R, R, R], id="allow-busy"),
    pytest.param("allow", False, [R, R, R], id="allow-idle"),
]


@pytest.mark.parametrize(("policy", "busy", "expected"), OVERLAP_CASES)
def test_overlap_policy_at_claim(
    store: Store, policy: str, busy: bool, expected: list[RunState]
) -> None:
    start = T0 if busy else T0 + MINUTE
    add_schedule(store, "a", next_fire_at=start, overlap=policy)
    if busy:
        fires(store, "a", T0)
        assert len(store.claim("w1", T0, LEASE, 10)) == 1
    fires(store, "a", T0 + 3 * MINUTE)
    now = T0 + 3 * MINUTE

    claimed = store.claim("w2", now, LEASE, 10)

    all_runs = runs_of(store, "a")
    assert [r.state for r in all_runs] == expected
    started = [r for r in all_runs if r.state is R and r.lease_owner == "w2"]
    assert sorted(c.run.id for c in claimed) == [r.id for r in started]
    for run in all_runs:
        if run.state is S:
            assert (run.finished_at, run.error, run.lease_owner) == (now, SKIPPED, None)
            assert event_names(store, run)[-1] == events.RUN_SKIPPED
        if run.state is C:
            assert (run.finished_at, run.error) == (now, CANCELLED)
            assert (run.lease_owner, run.lease_expires_at) == (None, None)
            assert event_names(store, run)[-1] == events.RUN_CANCELLED
        if run.state is Q:
            assert event_names(store, run) == [events.RUN_ENQUEUED]  # waiting: untouched


def test_a_cancelled_runs_worker_is_fenced_out(store: Store) -> None:
    add_schedule(store, "a", overlap="cancel_other")
    fires(store, "a", T0)
    [old] = store.claim("w1", T0, LEASE, 1)
    fires(store, "a", T0 + MINUTE)
    [new] = store.claim("w2", T0 + MINUTE, LEASE, 1)

    assert not store.extend_lease(old.run.id, "w1", T0 + MINUTE, LEASE)
    assert not store.finish(old.run.id, "w1", T0 + MINUTE, Outcome(RunState.succeeded))
    assert state_of(store, old.run) is C
    assert state_of(store, new.run) is R


def test_overlap_waits_count_across_claims(store: Store) -> None:
    """buffer_all: one at a time, each waiting fire starts when the one before finishes."""
    add_schedule(store, "a", overlap="buffer_all")
    fires(store, "a", T0 + 2 * MINUTE)
    now = T0 + 2 * MINUTE
    order: list[int] = []
    for _ in range(3):
        [claimed] = store.claim("w1", now, LEASE, 10)
        assert store.claim("w1", now, LEASE, 10) == []  # the rest wait
        order.append(claimed.run.id)
        assert store.finish(claimed.run.id, "w1", now, Outcome(RunState.succeeded))
    assert order == [r.id for r in runs_of(store, "a")]


# -- retrying runs are continuations ---------------------------------------------------------


def _retrying(store: Store, policy: str) -> Run:
    """A run of schedule "a" that failed its first attempt and retries at T0 + 2m."""
    add_schedule(store, "a", overlap=policy, retries=2)
    fires(store, "a", T0)
    [claimed] = store.claim("w1", T0, LEASE, 1)
    failed = Outcome(RunState.failed, error="boom")
    assert store.finish(claimed.run.id, "w1", T0 + MINUTE / 2, failed, retry_at=T0 + 2 * MINUTE)
    run = store.get_run(claimed.run.id)
    assert run is not None
    return run


@pytest.mark.parametrize("policy", ["skip", "buffer_one", "buffer_all", "cancel_other", "allow"])
def test_a_due_retrying_run_starts_its_next_attempt(store: Store, policy: str) -> None:
    retrying = _retrying(store, policy)

    [claimed] = store.claim("w2", T0 + 2 * MINUTE, LEASE, 10)

    assert claimed.run.id == retrying.id
    assert (claimed.run.attempt, claimed.run.lease_owner) == (2, "w2")


@pytest.mark.parametrize(
    ("policy", "resumes"),
    [
        pytest.param("skip", False, id="skip"),
        pytest.param("buffer_one", False, id="buffer_one"),
        pytest.param("buffer_all", False, id="buffer_all"),
        pytest.param("cancel_other", False, id="cancel_other"),
        pytest.param("allow", True, id="allow"),
    ],
)
def test_a_due_retrying_run_waits_while_another_run_of_its_schedule_runs(
    store: Store, policy: str, resumes: bool
) -> None:
    # Two runs of "a" running at once (it allowed overlap then), then "a" is redefined.
    add_schedule(store, "a", overlap="allow", retries=1)
    fires(store, "a", T0 + MINUTE)
    first, second = (c.run for c in store.claim("w1", T0 + MINUTE, LEASE, 10))
    add_schedule(store, "a", overlap=policy, retries=1, now=T0 + MINUTE)
    failed = Outcome(RunState.failed, error="boom")
    assert store.finish(first.id, "w1", T0 + MINUTE, failed, retry_at=T0 + 2 * MINUTE)

    claimed = store.claim("w2", T0 + 2 * MINUTE, LEASE, 10)

    assert [c.run.id for c in claimed] == ([first.id] if resumes else [])
    assert state_of(store, first) is (R if resumes else RunState.retrying)
    assert state_of(store, second) is R
    assert store.finish(second.id, "w1", T0 + 3 * MINUTE, Outcome(RunState.succeeded))
    if not resumes:  # once the schedule is free, the continuation starts
        [later] = store.claim("w2", T0 + 3 * MINUTE, LEASE, 10)
        assert (later.run.id, later.run.attempt) == (first.id, 2)


def test_a_retrying_run_in_backoff_makes_its_schedule_busy(store: Store) -> None:
    retrying = _retrying(store, "skip")
    late = store.trigger("a", T0 + MINUTE)

    assert store.claim("w2", T0 + MINUTE, LEASE, 10) == []
    assert state_of(store, late) is S
    assert state_of(store, retrying) is RunState.retrying


def test_cancel_other_cancels_retrying_runs_too(store: Store) -> None:
    retrying = _retrying(store, "cancel_other")
    newer = store.trigger("a", T0 + MINUTE)

    [claimed] = store.claim("w2", T0 + 3 * MINUTE, LEASE, 10)

    assert claimed.run.id == newer.id
    assert state_of(store, retrying) is C
    assert event_names(store, retrying)[-1] == events.RUN_CANCELLED
    assert events.RUN_CLAIMED not in event_names(store, retrying)[2:]  # not started first


def test_claim_is_not_starved_by_schedules_that_wait(store: Store) -> None:
    """Many due runs that must wait (ahead in due order) do not hide one that can start."""
    blocked = 70  # more than a claim reads per page
    for i in range(blocked):
        add_schedule(store, f"busy-{i:03}", overlap="buffer_all", next_fire_at=T0 - MINUTE)
    store.enqueue_due(T0 - MINUTE, 1000, minutely)
    assert len(store.claim("w1", T0 - MINUTE, LEASE, 1000)) == blocked
    store.enqueue_due(T0, 1000, minutely)  # each busy schedule gets a waiting fire
    add_schedule(store, "free", next_fire_at=T0 + MINUTE)
    store.enqueue_due(T0 + MINUTE, 1000, minutely)  # the free fire is due last

    claimed = store.claim("w2", T0 + MINUTE, LEASE, 1)

    assert [c.run.schedule for c in claimed] == ["free"]


def test_a_schedule_with_many_waiting_fires_costs_a_claim_one_page(store: Store) -> None:
    """The due runs of one busy schedule (buffer_all after a downtime) come first in due
    order; a claim passes over all of them in one page read, not one read per few runs."""
    waiting = 300
    add_schedule(store, "backlog", overlap="buffer_all", next_fire_at=T0 - waiting * MINUTE)
    store.enqueue_due(T0 - waiting * MINUTE, 10, minutely)
    assert len(store.claim("w1", T0 - waiting * MINUTE, LEASE, 1)) == 1  # the schedule is busy
    store.enqueue_due(T0, 10, minutely)  # ... and has `waiting` more due fires
    add_schedule(store, "free", next_fire_at=T0)
    store.enqueue_due(T0, 10, minutely)  # due at T0: after all of them in due order
    statements = count_statements(store)

    claimed = store.claim("w2", T0, LEASE, 1)

    assert [c.run.schedule for c in claimed] == ["free"]
    assert statements() <= 10  # it was one read per two waiting runs: ~150


def test_a_schedules_skipped_fires_are_one_statement_not_one_each(store: Store) -> None:
    """Back from downtime, a `skip` schedule has a minute of on-time fires due: the claim
    starts the oldest and records the others skipped, with events, in a few statements."""
    due = 60
    add_schedule(store, "busy", overlap="skip", next_fire_at=T0 - (due - 1) * MINUTE)
    store.enqueue_due(T0, 10, minutely)
    statements = count_statements(store)

    claimed = store.claim("w1", T0, LEASE, 1)

    assert [c.run.nominal_fire for c in claimed] == [T0 - (due - 1) * MINUTE]
    everything = runs_of(store, "busy")
    assert [r.state for r in everything] == [R] + [S] * (due - 1)
    assert {r.error for r in everything[1:]} == {SKIPPED}
    assert statements() <= 10  # it was one UPDATE per skipped fire: 59 more
    assert all(event_names(store, r) == ["run_enqueued", "run_skipped"] for r in everything[1:])
