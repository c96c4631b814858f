"""Concurrency: every run claimed once, and one row per fire, whatever runs at the same time.

Threads share one store (a worker's thread pool) or each open their own (like processes);
processes are spawned, each with its own store on the same database.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from tickwork import events
from tickwork.model import RunState
from tickwork.store import Store

from . import race_helpers
from .conftest import MINUTE, T0, Backend, add_schedule, runs_of

RUNS = 200
SCHEDULES = 10
THREADS = 4
TIMEOUT = 60  # a safety net only: the tests wait on results, never on time


def _queue_runs(store: Store) -> None:
    """200 queued runs: 10 schedules that allow overlap, 20 fires each."""
    for i in range(SCHEDULES):
        add_schedule(store, f"s{i}", overlap="allow")
    store.enqueue_due(race_helpers.CLAIM_AT, 100, race_helpers._planner)
    assert store.count_runs()[RunState.queued] == RUNS


def _assert_claimed_once(store: Store, got: dict[str, list[int]]) -> None:
    every = [run_id for ids in got.values() for run_id in ids]
    assert len(every) == RUNS
    assert len(set(every)) == RUNS  # nobody got a run twice
    owner = {run_id: worker for worker, ids in got.items() for run_id in ids}
    for run in runs_of(store):
        assert (run.state, run.attempt, run.lease_owner) == (RunState.running, 1, owner[run.id])
        claims = Counter(e.event for e in store.run_events(run.id))[events.RUN_CLAIMED]
        assert claims == 1


@pytest.mark.parametrize("sharing", ["one-store", "store-per-thread"])
def test_threads_claim_every_run_exactly_once(store: Store, backend: Backend, sharing: str) -> None:
    _queue_runs(store)
    stores = [store if sharing == "one-store" else backend.open() for _ in range(THREADS)]
    barrier = threading.Barrier(THREADS)

    def work(i: int) -> tuple[str, list[int]]:
        barrier.wait(TIMEOUT)
        return f"w{i}", race_helpers.claim_all(stores[i], f"w{i}")

    try:
        with ThreadPoolExecutor(THREADS) as pool:
            got = dict(pool.map(work, range(THREADS), timeout=TIMEOUT))
    finally:
        for opened in stores:
            if opened is not store:
                opened.close()
    _assert_claimed_once(store, got)


def test_processes_claim_every_run_exactly_once(store: Store, backend: Backend) -> None:
    _queue_runs(store)
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [
        ctx.Process(
            target=race_helpers.claim_in_process, args=(backend.url, f"p{i}", barrier, results)
        )
        for i in range(2)
    ]
    for proc in procs:
        proc.start()
    got = dict(results.get(timeout=TIMEOUT) for _ in procs)
    for proc in procs:
        proc.join(TIMEOUT)
        assert proc.exitcode == 0
    results.close()
    results.join_thread()
    _assert_claimed_once(store, got)


TICKS = 30
ENQUEUE_SCHEDULES = 20


def _due_schedules(store: Store) -> None:
    for i in range(ENQUEUE_SCHEDULES):
        add_schedule(store, f"e{i:02}")


def _assert_one_row_per_fire(store: Store, created: list[tuple[int, int]]) -> None:
    all_runs = runs_of(store)
    expected = {
        (f"e{i:02}", T0 + m * MINUTE) for i in range(ENQUEUE_SCHEDULES) for m in range(TICKS)
    }
    assert len(all_runs) == len(expected)  # no fire twice...
    assert {(r.schedule, r.nominal_fire) for r in all_runs} == expected  # ...and none lost
    assert sum(queued for queued, _ in created) == len(expected)
    for run in all_runs:
        assert [e.event for e in store.run_events(run.id)] == [events.RUN_ENQUEUED]


def test_two_schedulers_enqueue_one_row_per_fire(store: Store, backend: Backend) -> None:
    _due_schedules(store)
    schedulers = [backend.open(), backend.open()]
    barrier = threading.Barrier(2)

    def work(s: Store) -> tuple[int, int]:
        barrier.wait(TIMEOUT)
        return race_helpers.enqueue_ticks(s, TICKS)

    try:
        with ThreadPoolExecutor(2) as pool:
            created = list(pool.map(work, schedulers, timeout=TIMEOUT))
    finally:
        for s in schedulers:
            s.close()
    _assert_one_row_per_fire(store, created)


def test_two_scheduler_processes_enqueue_one_row_per_fire(store: Store, backend: Backend) -> None:
    _due_schedules(store)
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [
        ctx.Process(
            target=race_helpers.enqueue_in_process, args=(backend.url, TICKS, barrier, results)
        )
        for _ in range(2)
    ]
    for proc in procs:
        proc.start()
    created = [results.get(timeout=TIMEOUT) for _ in procs]
    for proc in procs:
        proc.join(TIMEOUT)
        assert proc.exitcode == 0
    results.close()
    results.join_thread()
    _assert_one_row_per_fire(store, created)
