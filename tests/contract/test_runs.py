"""Reading runs (get, list, count, events) and pruning them; events for every transition."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tickwork import events
from tickwork.errors import InvalidSpecError
from tickwork.model import Outcome, RunState
from tickwork.store import Store
from tickwork.store.base import RunFilter

from .conftest import LEASE, MINUTE, T0, add_schedule, event_names, fires, minutely, runs_of

SECOND = timedelta(seconds=1)
DONE = Outcome(RunState.succeeded)


def test_every_transition_of_a_run_is_an_event(store: Store) -> None:
    add_schedule(store, "a", retries=3)
    [run] = fires(store, "a", T0)
    t = T0

    def claim(worker: str, now: datetime) -> None:
        [claimed] = store.claim(worker, now, LEASE, 1)
        assert claimed.run.id == run.id

    claim("w1", t)
    assert store.finish(run.id, "w1", t + SECOND, Outcome(RunState.failed), retry_at=t + MINUTE)
    claim("w2", t + MINUTE)
    [lost] = store.reclaim_expired(t + MINUTE + LEASE + SECOND, 10)
    claim("w3", t + 2 * MINUTE)
    assert store.release(run.id, "w3", t + 2 * MINUTE + SECOND)
    claim("w4", t + 3 * MINUTE)
    assert store.finish(run.id, "w4", t + 3 * MINUTE + SECOND, DONE)

    assert [(e.event, e.state, e.attempt, e.at) for e in store.run_events(run.id)] == [
        (events.RUN_ENQUEUED, RunState.queued, 0, T0),
        (events.RUN_CLAIMED, RunState.running, 1, T0),
        (events.RUN_RETRY_SCHEDULED, RunState.retrying, 1, T0 + SECOND),
        (events.RUN_CLAIMED, RunState.running, 2, T0 + MINUTE),
        (events.RUN_LEASE_EXPIRED, RunState.queued, 2, T0 + MINUTE + LEASE + SECOND),
        (events.RUN_CLAIMED, RunState.running, 3, T0 + 2 * MINUTE),
        (events.RUN_RELEASED, RunState.queued, 2, T0 + 2 * MINUTE + SECOND),
        (events.RUN_CLAIMED, RunState.running, 3, T0 + 3 * MINUTE),
        (events.RUN_SUCCEEDED, RunState.succeeded, 3, T0 + 3 * MINUTE + SECOND),
    ]
    assert lost.id == run.id


def test_get_run_and_events_of_an_unknown_run(store: Store) -> None:
    assert store.get_run(12345) is None
    assert store.run_events(12345) == []


def test_list_runs_is_newest_first_with_filters(store: Store) -> None:
    add_schedule(store, "a")
    add_schedule(store, "b")
    store.enqueue_due(T0 + 3 * MINUTE, 10, minutely)  # a and b: T0..T0+3m
    a = runs_of(store, "a")
    b = runs_of(store, "b")
    everything = sorted(a + b, key=lambda r: r.id, reverse=True)

    assert store.list_runs(RunFilter()) == everything
    assert store.list_runs(RunFilter(limit=3)) == everything[:3]
    assert store.list_runs(RunFilter(limit=0)) == []
    assert store.list_runs(RunFilter(schedule="a")) == a[::-1]
    assert store.list_runs(RunFilter(schedule="nope")) == []
    assert store.list_runs(RunFilter(schedule="a", since=T0 + MINUTE, until=T0 + 3 * MINUTE)) == [
        a[2],
        a[1],
    ]
    [first] = store.claim("w1", T0 + 3 * MINUTE, LEASE, 1)  # "a" skip: 1 starts, 3 skipped
    states = frozenset({RunState.running, RunState.queued})
    listed = store.list_runs(RunFilter(states=states))
    assert [r.id for r in listed] == [r.id for r in everything if r.schedule == "b"] + [
        first.run.id
    ]
    assert store.list_runs(RunFilter(schedule="a", states=frozenset({RunState.skipped}))) == [
        store.get_run(r.id) for r in a[:0:-1]
    ]


def test_list_runs_pages_with_the_before_id_cursor(store: Store) -> None:
    add_schedule(store, "a", overlap="allow")
    fires(store, "a", T0 + 9 * MINUTE)
    seen: list[int] = []
    cursor: int | None = None
    while page := store.list_runs(RunFilter(before_id=cursor, limit=3)):
        seen += [r.id for r in page]
        cursor = page[-1].id
    assert seen == sorted((r.id for r in runs_of(store)), reverse=True)
    assert len(seen) == 10


def test_count_runs_by_state(store: Store) -> None:
    add_schedule(store, "a")
    add_schedule(store, "b")
    store.enqueue_due(T0 + 2 * MINUTE, 10, minutely)
    store.claim("w1", T0 + 2 * MINUTE, LEASE, 10)  # each: 1 running, 2 skipped

    counts = store.count_runs()
    assert set(counts) == set(RunState)
    assert (counts[RunState.running], counts[RunState.skipped], counts[RunState.queued]) == (
        2,
        4,
        0,
    )
    only_a = store.count_runs("a")
    assert (only_a[RunState.running], only_a[RunState.skipped]) == (1, 2)
    assert sum(store.count_runs("nope").values()) == 0


# -- prune -----------------------------------------------------------------------------------


def test_prune_deletes_old_terminal_runs_and_their_events(store: Store) -> None:
    add_schedule(store, "a", overlap="allow", retries=1)
    add_schedule(store, "paused")
    store.set_paused("paused", True, T0)
    store.enqueue_due(T0 + 5 * MINUTE, 10, minutely)  # a: 6 queued; paused: 6 skipped at +5m
    claimed = [c.run for c in store.claim("w1", T0 + 5 * MINUTE, LEASE, 4)]
    old_done, new_done, retrying, running = claimed
    assert store.finish(old_done.id, "w1", T0 + 5 * MINUTE, DONE)
    assert store.finish(new_done.id, "w1", T0 + 20 * MINUTE, DONE)
    assert store.finish(
        retrying.id, "w1", T0 + 5 * MINUTE, Outcome(RunState.failed), retry_at=T0 + 6 * MINUTE
    )
    kept_ids = {new_done.id, retrying.id, running.id} | {
        r.id for r in runs_of(store, "a") if r.state is RunState.queued
    }

    deleted = store.prune(T0 + 10 * MINUTE, batch=2)

    assert deleted == 1 + 6  # old_done and the six skipped records
    assert {r.id for r in runs_of(store)} == kept_ids
    assert store.run_events(old_done.id) == []
    assert event_names(store, new_done)[-1] == events.RUN_SUCCEEDED
    assert store.prune(T0 + 10 * MINUTE) == 0


def test_prune_never_deletes_waiting_or_running_runs(store: Store) -> None:
    add_schedule(store, "a", overlap="allow")
    fires(store, "a", T0 + MINUTE)
    store.claim("w1", T0, LEASE, 1)
    before = runs_of(store)
    assert store.prune(T0 + 10_000 * MINUTE) == 0
    assert runs_of(store) == before


def test_prune_refuses_a_batch_that_is_not_positive(store: Store) -> None:
    with pytest.raises(InvalidSpecError):
        store.prune(T0, batch=0)
