"""Bad input gets a specific error and leaves what is stored as it was (promise 6)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from tickwork.errors import InvalidSpecError, ScheduleNotFoundError
from tickwork.model import Outcome, RunState, WorkerInfo
from tickwork.store import Store
from tickwork.store.base import RunFilter, ScheduleUpsert

from .conftest import LEASE, T0, add_schedule, fires, minutely, runs_of

NAIVE = datetime(2026, 1, 1, 3, 0)

NAIVE_CALLS: dict[str, Callable[[Store, int], Any]] = {
    "sync_schedules": lambda s, run_id: s.sync_schedules(
        [ScheduleUpsert("x", {}, T0, T0)], "code", NAIVE
    ),
    "sync anchor": lambda s, run_id: s.sync_schedules(
        [ScheduleUpsert("x", {}, T0, NAIVE)], "code", T0
    ),
    "set_paused": lambda s, run_id: s.set_paused("a", True, NAIVE),
    "enqueue_due": lambda s, run_id: s.enqueue_due(NAIVE, 10, minutely),
    "trigger": lambda s, run_id: s.trigger("a", NAIVE),
    "next_wakeup": lambda s, run_id: s.next_wakeup(NAIVE),
    "claim": lambda s, run_id: s.claim("w1", NAIVE, LEASE, 10),
    "extend_lease": lambda s, run_id: s.extend_lease(run_id, "w1", NAIVE, LEASE),
    "finish": lambda s, run_id: s.finish(run_id, "w1", NAIVE, Outcome(RunState.succeeded)),
    "finish retry_at": lambda s, run_id: s.finish(
        run_id, "w1", T0, Outcome(RunState.failed), retry_at=NAIVE
    ),
    "release": lambda s, run_id: s.release(run_id, "w1", NAIVE),
    "reclaim_expired": lambda s, run_id: s.reclaim_expired(NAIVE, 10),
    "list_runs": lambda s, run_id: s.list_runs(RunFilter(since=NAIVE)),
    "prune": lambda s, run_id: s.prune(NAIVE),
    "register_worker": lambda s, run_id: s.register_worker(
        WorkerInfo("w", "h", 1, "0", "worker", NAIVE, NAIVE)
    ),
    "heartbeat_worker": lambda s, run_id: s.heartbeat_worker("w1", NAIVE),
}


def _snapshot(store: Store) -> tuple[object, ...]:
    return (
        store.list_schedules(include_retired=True),
        runs_of(store),
        [store.run_events(r.id) for r in runs_of(store)],
        store.list_workers(),
    )


@pytest.mark.parametrize("call", list(NAIVE_CALLS))
def test_naive_datetimes_are_refused_and_nothing_is_written(store: Store, call: str) -> None:
    add_schedule(store, "a", overlap="allow")
    fires(store, "a", T0)
    [claimed] = store.claim("w1", T0, LEASE, 1)
    fires(store, "a", T0 + LEASE)  # one more, still queued
    store.register_worker(WorkerInfo("w1", "h", 1, "0", "worker", T0, T0))
    before = _snapshot(store)

    with pytest.raises(ValueError, match="aware") as caught:
        NAIVE_CALLS[call](store, claimed.run.id)

    assert isinstance(caught.value, InvalidSpecError)
    assert not caught.value.retryable
    assert _snapshot(store) == before


UNKNOWN_CALLS: dict[str, Callable[[Store], Any]] = {
    "set_paused": lambda s: s.set_paused("nope", True, T0),
    "trigger": lambda s: s.trigger("nope", T0),
}


@pytest.mark.parametrize("call", list(UNKNOWN_CALLS))
def test_an_unknown_schedule_raises_the_specific_error(store: Store, call: str) -> None:
    add_schedule(store, "a")
    fires(store, "a", T0)
    before = _snapshot(store)

    with pytest.raises(ScheduleNotFoundError, match="'nope'") as caught:
        UNKNOWN_CALLS[call](store)

    assert not caught.value.retryable
    assert _snapshot(store) == before
