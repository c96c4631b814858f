"""The API's store methods (``APIStore``) on every store: API-owned schedules changed all
or nothing, keyset pages, one run per idempotency key, the first stored answer wins,
cancel and retry by state."""

from __future__ import annotations

import contextlib
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tickwork.errors import (
    NotPermittedError,
    RunNotFoundError,
    ScheduleConflictError,
    ScheduleNotFoundError,
    StateConflictError,
)
from tickwork.model import Outcome, RunState
from tickwork.store import Store
from tickwork.store.api_base import APIStore, ScheduleChange, StoredResponse
from tickwork.store.base import ScheduleUpsert

from .conftest import LEASE, MINUTE, T0, Backend, add_schedule, event_names, runs_of, state_of


@pytest.fixture
def api(store: Store) -> APIStore:
    assert isinstance(store, APIStore)
    return store


def create(name: str, **spec: Any) -> ScheduleChange:
    upsert = ScheduleUpsert(name, {"every": "1h", "name": name, **spec}, T0 + 60 * MINUTE, T0)
    return ScheduleChange(name, upsert, create=True)


def replace(name: str, version: int | None = None, **spec: Any) -> ScheduleChange:
    upsert = ScheduleUpsert(name, {"every": "2h", "name": name, **spec}, T0 + 120 * MINUTE, T0)
    return ScheduleChange(name, upsert, expect_version=version)


def test_creates_updates_and_retires_api_schedules(store: Store, api: APIStore) -> None:
    (row,) = api.change_api_schedules([create("a")], T0)
    assert row is not None
    assert (row.source, row.version, row.next_fire_at) == ("api", 1, T0 + 60 * MINUTE)
    (row,) = api.change_api_schedules([replace("a", version=1)], T0 + MINUTE)
    assert row is not None
    assert (row.version, row.spec["every"], row.updated_at) == (2, "2h", T0 + MINUTE)
    (same,) = api.change_api_schedules([replace("a")], T0 + 2 * MINUTE)
    assert same == row  # an unchanged definition writes nothing
    assert api.change_api_schedules([ScheduleChange("a", None)], T0) == [None]
    gone = store.get_schedule("a")
    assert gone is not None
    assert gone.retired


def test_a_batch_with_one_bad_change_changes_nothing(store: Store, api: APIStore) -> None:
    add_schedule(store, "from-code")
    api.change_api_schedules([create("a")], T0)
    before = store.list_schedules(include_retired=True)
    for bad, error in [
        (create("a"), ScheduleConflictError),
        (create("from-code"), ScheduleConflictError),
        (replace("ghost"), ScheduleNotFoundError),
        (replace("from-code"), NotPermittedError),
        (ScheduleChange("from-code", None), NotPermittedError),
        (replace("a", version=7), StateConflictError),
    ]:
        with pytest.raises(error):
            api.change_api_schedules([create("b"), replace("a"), bad], T0 + MINUTE)
        assert store.list_schedules(include_retired=True) == before


def test_pages_are_keyset_by_name(store: Store, api: APIStore) -> None:
    api.change_api_schedules([create(n) for n in ["c", "a", "e", "b", "d"]], T0)
    add_schedule(store, "bb", source="code")
    first = api.schedule_page(after=None, limit=2)
    assert [r.name for r in first.rows] == ["a", "b"]
    assert first.more
    rest = api.schedule_page(after="b", limit=10)
    assert [r.name for r in rest.rows] == ["bb", "c", "d", "e"]
    assert not rest.more
    assert [r.name for r in api.schedule_page(after=None, limit=9, source="code").rows] == ["bb"]
    assert [r.name for r in api.schedule_page(after=None, limit=9, prefix="b").rows] == [
        "b",
        "bb",
    ]
    literal = api.schedule_page(after=None, limit=9, prefix="%")  # LIKE wildcards escaped
    assert literal.rows == ()


def trigger_once(api: APIStore, key: str, request_hash: str = "h") -> Any:
    return api.trigger_idempotent(
        "job",
        T0,
        principal="p",
        route="POST t",
        key=key,
        request_hash=request_hash,
        respond=lambda run: (201, {"id": run.id}),
    )


def test_one_run_per_idempotency_key(store: Store, api: APIStore) -> None:
    add_schedule(store, "job")
    first = trigger_once(api, "k")
    assert first.run is not None
    again = trigger_once(api, "k", request_hash="other")
    assert again.run is None
    assert again.stored == StoredResponse("h", 201, {"id": first.run.id})
    assert len(runs_of(store, "job")) == 1
    with pytest.raises(ScheduleNotFoundError):
        api.trigger_idempotent(
            "ghost",
            T0,
            principal="p",
            route="r",
            key="g",
            request_hash="h",
            respond=lambda r: (0, 0),
        )
    assert api.stored_response("p", "r", "g") is None  # rolled back with the trigger


def test_simultaneous_keys_make_one_run(backend: Backend) -> None:
    stores = [backend.open() for _ in range(4)]
    try:
        stores[0].upgrade()
        add_schedule(stores[0], "job")
        start = threading.Barrier(len(stores))

        def go(store: Store) -> Any:
            assert isinstance(store, APIStore)
            start.wait()
            return trigger_once(store, "race")

        with ThreadPoolExecutor(len(stores)) as pool:
            outcomes = list(pool.map(go, stores))
        assert sum(o.run is not None for o in outcomes) == 1
        assert len(runs_of(stores[0], "job")) == 1
    finally:
        for store in stores:
            store.close()


def test_the_first_remembered_answer_wins(api: APIStore) -> None:
    first = api.remember_response("p", "r", "k", StoredResponse("h1", 200, {"a": 1}), T0)
    second = api.remember_response("p", "r", "k", StoredResponse("h2", 201, {"b": 2}), T0)
    assert first == second == StoredResponse("h1", 200, {"a": 1})
    assert api.stored_response("p", "r", "k") == first
    assert api.stored_response("q", "r", "k") is None


def test_cancel_by_state(store: Store, api: APIStore) -> None:
    add_schedule(store, "job")
    queued = store.trigger("job", T0)
    assert api.cancel_run(queued.id, T0, "by hand").state is RunState.cancelled
    assert event_names(store, queued)[-1] == "run_cancelled"
    running = store.trigger("job", T0 + MINUTE)
    store.claim("w", T0 + MINUTE, LEASE, 10)
    cancelled = api.cancel_run(running.id, T0 + MINUTE, "by hand")
    assert (cancelled.state, cancelled.lease_owner) == (RunState.cancelled, None)
    assert not store.extend_lease(running.id, "w", T0 + MINUTE, LEASE)  # the worker hears it
    assert not store.finish(running.id, "w", T0 + MINUTE, Outcome(RunState.succeeded))
    assert state_of(store, running) is RunState.cancelled
    with pytest.raises(StateConflictError):
        api.cancel_run(running.id, T0, "again")
    with pytest.raises(RunNotFoundError):
        api.cancel_run(10**9, T0, "x")


def test_retry_requeues_a_failed_run_with_one_more_attempt(store: Store, api: APIStore) -> None:
    add_schedule(store, "job")
    run = store.trigger("job", T0)
    store.claim("w", T0, LEASE, 10)
    store.finish(run.id, "w", T0, Outcome(RunState.failed, error="boom"))
    with pytest.raises(StateConflictError):
        api.retry_run(store.trigger("job", T0 + MINUTE).id, T0)  # queued
    again = api.retry_run(run.id, T0 + MINUTE)
    assert (again.state, again.attempt, again.max_attempts) == (RunState.queued, 1, 2)
    assert (again.nominal_fire, again.due_at, again.finished_at) == (T0, T0 + MINUTE, None)
    assert event_names(store, run)[-1] == "run_retry_requested"
    claimed = store.claim("w", T0 + MINUTE, LEASE, 10)
    assert [c.run.attempt for c in claimed if c.run.id == run.id] == [2]
    with pytest.raises(RunNotFoundError):
        api.retry_run(10**9, T0)


def test_retry_of_a_run_cancelled_before_its_retries_keeps_them(
    store: Store, api: APIStore
) -> None:
    add_schedule(store, "job", retries=2)
    run = store.trigger("job", T0)
    api.cancel_run(run.id, T0, "by hand")
    again = api.retry_run(run.id, T0 + MINUTE)
    assert (again.attempt, again.max_attempts) == (0, 3)


NAME_CHARS = "abcxyz019._-"


@given(
    names=st.sets(st.text(NAME_CHARS, min_size=1, max_size=6), min_size=0, max_size=15),
    limit=st.integers(1, 6),
    data=st.data(),
)
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_walking_pages_sees_each_schedule_once_while_others_come_and_go(
    api: APIStore, names: set[str], limit: int, data: st.DataObject
) -> None:
    """Keyset pages: whatever is added or retired during the walk, every schedule present
    from start to end is seen exactly once, and none twice (each example under a fresh
    prefix, so examples share the store but not their schedules)."""
    prefix = f"p{uuid.uuid4().hex[:8]}-"
    full = sorted(prefix + n for n in names)
    if full:
        api.change_api_schedules([create(n) for n in full], T0)
    churn = data.draw(st.lists(st.text(NAME_CHARS, min_size=1, max_size=6), max_size=5))
    seen: list[str] = []
    after = None
    for step in range(100):
        page = api.schedule_page(after=after, limit=limit, prefix=prefix)
        seen += [r.name for r in page.rows]
        if step < len(churn):  # a newcomer, not among those that must be seen
            extra = f"{prefix}new-{churn[step]}"
            if extra not in full and extra not in seen:
                with contextlib.suppress(ScheduleConflictError):
                    api.change_api_schedules([create(extra)], T0)
        if not page.more:
            break
        after = page.rows[-1].name
    assert len(seen) == len(set(seen))
    assert set(full) <= set(seen)


def test_old_idempotency_keys_are_forgotten_in_batches(api: APIStore) -> None:
    for n in range(5):
        api.remember_response("p", "r", f"k{n}", StoredResponse("h", 200, n), T0 + n * MINUTE)
    assert api.forget_idempotency_keys(T0 + 3 * MINUTE, batch=2) == 2
    assert api.forget_idempotency_keys(T0 + 3 * MINUTE, batch=2) == 1
    assert api.forget_idempotency_keys(T0 + 3 * MINUTE, batch=2) == 0
    assert [api.stored_response("p", "r", f"k{n}") is None for n in range(5)] == [
        True,
        True,
        True,
        False,
        False,
    ]
