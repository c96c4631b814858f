"""The process table: register (upsert), heartbeat, deregister, list."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from tickwork.model import WorkerInfo
from tickwork.store import Store

from .conftest import T0

W1 = WorkerInfo("host-a:100:w", "host-a", 100, "0.1.0", "worker", T0, T0)
W2 = WorkerInfo("host-b:7:s", "host-b", 7, "0.1.0", "scheduler,worker", T0, T0)


def test_register_and_list_workers_by_id(store: Store) -> None:
    store.register_worker(W2)
    store.register_worker(W1)
    assert store.list_workers() == [W1, W2]


def test_registering_again_refreshes_the_row(store: Store) -> None:
    store.register_worker(W1)
    restarted = replace(W1, pid=101, version="0.2.0", started_at=T0 + timedelta(hours=1))
    store.register_worker(restarted)
    assert store.list_workers() == [restarted]


def test_heartbeat_moves_only_the_heartbeat(store: Store) -> None:
    store.register_worker(W1)
    store.register_worker(W2)
    store.heartbeat_worker(W1.id, T0 + timedelta(seconds=10))
    store.heartbeat_worker("unknown", T0 + timedelta(seconds=10))  # nothing to refresh
    assert store.list_workers() == [replace(W1, heartbeat_at=T0 + timedelta(seconds=10)), W2]


def test_deregister_removes_the_row(store: Store) -> None:
    store.register_worker(W1)
    store.register_worker(W2)
    store.deregister_worker(W1.id)
    store.deregister_worker("unknown")
    assert store.list_workers() == [W2]
