"""``MetricsStore.metrics_snapshot``: what /metrics reads at scrape time, on every store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, insert
from sqlalchemy.engine import Connection

from tickwork.model import Outcome, RunState, WorkerInfo
from tickwork.store import Store
from tickwork.store.postgres import postgres_url
from tickwork.store.schema import run_counts, schedule_health
from tickwork.store.snapshot import MetricsStore, ScheduleStatus

from .conftest import LEASE, MINUTE, T0, Backend, add_schedule, fires


@contextmanager
def database(backend: Backend) -> Iterator[Connection]:
    """A connection of the test's own, for rows another helper's code writes (kept counts
    of pruned runs, overdue detection)."""
    url = postgres_url(backend.url) if backend.name == "postgres" else backend.url
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            yield conn
    finally:
        engine.dispose()


def test_an_empty_store_has_every_unfinished_state_at_zero(store: Store) -> None:
    assert isinstance(store, MetricsStore)
    snap = store.metrics_snapshot(T0)
    assert snap.finished == {}
    assert snap.unfinished == {RunState.queued: 0, RunState.retrying: 0, RunState.running: 0}
    assert (snap.due, snap.schedules, snap.workers) == (0, (), ())


def test_counts_runs_by_schedule_and_final_state_and_the_due_queue(store: Store) -> None:
    assert isinstance(store, MetricsStore)
    add_schedule(store, "a", overlap="allow")
    add_schedule(store, "b", overlap="allow")
    fires(store, "a", T0 + 3 * MINUTE)  # a and b: 4 runs each, due T0 .. T0+3m
    claimed = store.claim("w1", T0 + 3 * MINUTE, LEASE, 3)
    done = T0 + 3 * MINUTE + timedelta(seconds=5)
    states = [RunState.succeeded, RunState.failed, RunState.running]
    for item, state in zip(claimed, states, strict=True):
        if state is not RunState.running:
            assert store.finish(item.run.id, "w1", done, Outcome(state))
    # Seen at T0+2m30s, the runs due at T0+3m are waiting but not due yet.
    snap = store.metrics_snapshot(T0 + 2 * MINUTE + timedelta(seconds=30))
    finished = {(claimed[0].run.schedule, RunState.succeeded): 1}
    finished[(claimed[1].run.schedule, RunState.failed)] = 1
    assert snap.finished == finished
    assert snap.unfinished == {RunState.queued: 5, RunState.retrying: 0, RunState.running: 1}
    assert snap.due == 3
    assert store.metrics_snapshot(T0 + 3 * MINUTE).due == 5


def test_pruned_counts_are_added_so_totals_never_go_down(store: Store, backend: Backend) -> None:
    assert isinstance(store, MetricsStore)
    add_schedule(store, "a")
    fires(store, "a", T0)
    (item,) = store.claim("w1", T0, LEASE, 1)
    assert store.finish(item.run.id, "w1", T0, Outcome(RunState.succeeded))
    with database(backend) as conn:
        conn.execute(insert(run_counts).values(schedule="a", state="succeeded", count=40))
        conn.execute(insert(run_counts).values(schedule="gone", state="failed", count=2))
    assert store.metrics_snapshot(T0).finished == {
        ("a", RunState.succeeded): 41,
        ("gone", RunState.failed): 2,
    }


def test_schedules_with_last_success_and_overdue_since(store: Store, backend: Backend) -> None:
    assert isinstance(store, MetricsStore)
    a = add_schedule(store, "a")
    add_schedule(store, "b")
    add_schedule(store, "c")
    store.set_paused("c", True, T0)
    fires(store, "a", T0 + MINUTE)
    for k, item in enumerate(store.claim("w1", T0 + MINUTE, LEASE, 10)):
        if item.run.schedule == "a":
            at = T0 + MINUTE + timedelta(seconds=k)
            assert store.finish(item.run.id, "w1", at, Outcome(RunState.succeeded))
    runs_a = store.metrics_snapshot(T0 + MINUTE).schedules[0].last_success_at
    assert runs_a is not None
    overdue = T0 + 2 * MINUTE
    with database(backend) as conn:
        # Health tracking kept an older success (pruned since) and found b overdue.
        conn.execute(
            insert(schedule_health).values(
                schedule_id=a.id, last_success_at=T0 - MINUTE, updated_at=T0
            )
        )
        b = store.get_schedule("b")
        assert b is not None
        conn.execute(
            insert(schedule_health).values(
                schedule_id=b.id,
                last_success_at=T0 + 5 * MINUTE,
                overdue_since=overdue,
                updated_at=overdue,
            )
        )
    snap = store.metrics_snapshot(T0 + 3 * MINUTE)
    assert snap.schedules == (
        ScheduleStatus("a", False, runs_a, None),  # the newer of the two
        ScheduleStatus("b", False, T0 + 5 * MINUTE, overdue),
        ScheduleStatus("c", True, None, None),
    )


def test_retired_schedules_are_left_out_and_workers_listed(store: Store) -> None:
    assert isinstance(store, MetricsStore)
    add_schedule(store, "a", source="config")
    store.sync_schedules([], "config", T0)  # a retired
    info = WorkerInfo("h:1:x", "h", 1, "0.1.0", "scheduler,worker", T0, T0 + MINUTE)
    store.register_worker(info)
    snap = store.metrics_snapshot(T0 + 2 * MINUTE)
    assert (snap.schedules, snap.workers) == ((), (info,))


def test_a_naive_instant_is_refused(store: Store) -> None:
    assert isinstance(store, MetricsStore)
    with pytest.raises(ValueError, match="naive"):
        store.metrics_snapshot(T0.replace(tzinfo=None))
