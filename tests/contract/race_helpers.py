"""Loops the race tests run in threads and in spawned processes (importable by children)."""

from __future__ import annotations

from typing import Any

from tickwork.model import RunState
from tickwork.store import Store, open_store
from tickwork.store.base import FireDecision

from .conftest import LEASE, MINUTE, T0, minutely

CLAIM_AT = T0 + 19 * MINUTE  # every queued run of the claim races is due by then
IDLE_LIMIT = 1000  # empty claims with runs still queued: a bug, not a race to wait out


def claim_all(store: Store, worker: str, limit: int = 7) -> list[int]:
    """Claim until nothing is left to claim; the ids this worker got, in claim order."""
    got: list[int] = []
    idle = 0
    while True:
        claimed = store.claim(worker, CLAIM_AT, LEASE, limit)
        got += [c.run.id for c in claimed]
        if claimed:
            for c in claimed:  # what a worker reads before it runs them: the lock is free
                store.run_events(c.run.id)
            continue
        if store.count_runs()[RunState.queued] == 0:
            return got
        idle += 1
        assert idle < IDLE_LIMIT, "claims come back empty while runs are still queued"


def enqueue_ticks(store: Store, ticks: int) -> tuple[int, int]:
    """Run ``enqueue_due`` once a minute from T0 for ``ticks`` minutes, with the shared
    minutely planner; (runs this scheduler created, conflicts it saw)."""
    queued = conflicts = 0
    for minute in range(ticks):
        result = enqueue_due_all(store, T0 + minute * MINUTE)
        queued += len(result[0])
        conflicts += result[1]
    return queued, conflicts


def enqueue_due_all(store: Store, now: Any) -> tuple[list[int], int]:
    ids: list[int] = []
    conflicts = 0
    while True:
        result = store.enqueue_due(now, 5, _planner)
        ids += [r.id for r in result.queued]
        conflicts += result.conflicts
        if result.schedules == 0:
            return ids, conflicts


def _planner(row: Any, now: Any) -> FireDecision:
    return minutely(row, now)


def claim_in_process(url: str, worker: str, barrier: Any, results: Any) -> None:
    store = open_store(url)
    try:
        barrier.wait()
        results.put((worker, claim_all(store, worker)))
    finally:
        store.close()


def enqueue_in_process(url: str, ticks: int, barrier: Any, results: Any) -> None:
    store = open_store(url)
    try:
        barrier.wait()
        results.put(enqueue_ticks(store, ticks))
    finally:
        store.close()
