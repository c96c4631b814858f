"""sync_schedules, get/list_schedules and set_paused."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from tickwork.errors import InvalidSpecError, ScheduleConflictError, ScheduleNotFoundError
from tickwork.store import Store
from tickwork.store.base import ScheduleUpsert, SyncReport

from .conftest import MINUTE, T0, add_schedule, minutely, runs_of

LATER = T0 + 10 * MINUTE


def upsert(name: str, next_fire_at: datetime | None = T0, **spec: Any) -> ScheduleUpsert:
    return ScheduleUpsert(name, {"cron": "* * * * *", **spec}, next_fire_at, anchor=T0)


def test_sync_adds_new_schedules(store: Store) -> None:
    report = store.sync_schedules([upsert("b"), upsert("a", T0 + MINUTE)], "config", T0)

    assert report == SyncReport(added=("b", "a"))
    a = store.get_schedule("a")
    assert a is not None
    assert (a.name, a.spec, a.source, a.paused, a.retired) == (
        "a",
        {"cron": "* * * * *"},
        "config",
        False,
        False,
    )
    assert (a.next_fire_at, a.last_fire_at, a.anchor) == (T0 + MINUTE, None, T0)
    assert (a.created_at, a.updated_at, a.version) == (T0, T0, 1)
    assert [s.name for s in store.list_schedules()] == ["a", "b"]


def test_sync_updates_a_changed_spec_with_the_items_next_fire_and_anchor(store: Store) -> None:
    store.sync_schedules([upsert("a")], "config", T0)
    item = ScheduleUpsert("a", {"cron": "*/5 * * * *"}, T0 + 5 * MINUTE, anchor=T0 + MINUTE)

    report = store.sync_schedules([item], "config", LATER)

    assert report == SyncReport(changed=("a",))
    a = store.get_schedule("a")
    assert a is not None
    assert a.spec == {"cron": "*/5 * * * *"}
    assert (a.next_fire_at, a.anchor, a.version) == (T0 + 5 * MINUTE, T0 + MINUTE, 2)
    assert (a.created_at, a.updated_at) == (T0, LATER)


def test_sync_keeps_the_bookkeeping_of_an_unchanged_schedule(store: Store) -> None:
    store.sync_schedules([upsert("a")], "config", T0)
    store.enqueue_due(T0 + 2 * MINUTE, 10, minutely)  # next fire moves to T0+3m

    report = store.sync_schedules([upsert("a", T0 + 9 * MINUTE)], "config", LATER)

    assert report == SyncReport(unchanged=("a",))
    a = store.get_schedule("a")
    assert a is not None
    assert (a.next_fire_at, a.last_fire_at) == (T0 + 3 * MINUTE, T0 + 2 * MINUTE)
    assert (a.version, a.updated_at) == (1, T0)


@pytest.mark.parametrize(
    ("stored", "given", "same"),
    [
        pytest.param({"a": 1, "b": [1, 2]}, {"b": [1, 2], "a": 1}, True, id="key-order"),
        pytest.param({"x": [1, 2]}, {"x": (1, 2)}, True, id="tuple-is-a-list"),
        pytest.param({"x": 1}, {"x": 1.0}, False, id="int-is-not-float"),
        pytest.param({"x": 1}, {"x": True}, False, id="int-is-not-bool"),
        pytest.param({"x": {"y": None}}, {"x": {}}, False, id="null-is-not-missing"),
    ],
)
def test_specs_are_compared_by_json_value(
    store: Store, stored: dict[str, Any], given: dict[str, Any], same: bool
) -> None:
    store.sync_schedules([ScheduleUpsert("a", stored, T0, T0)], "code", T0)
    report = store.sync_schedules([ScheduleUpsert("a", given, T0, T0)], "code", LATER)
    assert report == (SyncReport(unchanged=("a",)) if same else SyncReport(changed=("a",)))


def test_sync_retires_what_the_source_no_longer_defines(store: Store) -> None:
    store.sync_schedules([upsert("a"), upsert("b")], "config", T0)
    store.trigger("b", T0)

    report = store.sync_schedules([upsert("a")], "config", LATER)

    assert report == SyncReport(retired=("b",), unchanged=("a",))
    b = store.get_schedule("b")
    assert b is not None
    assert (b.retired, b.version, b.updated_at) == (True, 2, LATER)
    assert [s.name for s in store.list_schedules()] == ["a"]
    assert [s.name for s in store.list_schedules(include_retired=True)] == ["a", "b"]
    assert len(runs_of(store, "b")) == 1  # history kept
    result = store.enqueue_due(LATER, 10, minutely)
    assert {r.schedule for r in result.queued} == {"a"}  # a retired schedule never fires
    # Retiring again is not a change.
    assert store.sync_schedules([upsert("a")], "config", LATER) == SyncReport(unchanged=("a",))


def test_a_retired_schedule_that_comes_back_is_changed(store: Store) -> None:
    store.sync_schedules([upsert("a")], "config", T0)
    store.sync_schedules([], "config", T0)

    report = store.sync_schedules([upsert("a", LATER)], "config", LATER)

    assert report == SyncReport(changed=("a",))
    a = store.get_schedule("a")
    assert a is not None
    assert (a.retired, a.next_fire_at, a.version) == (False, LATER, 3)


def test_sync_leaves_other_sources_alone(store: Store) -> None:
    store.sync_schedules([upsert("from-code")], "code", T0)
    assert store.sync_schedules([], "config", T0) == SyncReport()
    found = store.get_schedule("from-code")
    assert found is not None
    assert not found.retired


def test_a_name_of_another_source_is_a_conflict_and_nothing_changes(store: Store) -> None:
    store.sync_schedules([upsert("shared")], "code", T0)
    store.sync_schedules([upsert("mine")], "config", T0)
    before = store.list_schedules(include_retired=True)

    with pytest.raises(ScheduleConflictError) as caught:
        store.sync_schedules([upsert("new"), upsert("shared", hour=3)], "config", LATER)

    assert (caught.value.name, caught.value.owner, caught.value.source) == (
        "shared",
        "code",
        "config",
    )
    assert not caught.value.retryable
    assert store.list_schedules(include_retired=True) == before  # "new" not added, "mine" kept


@pytest.mark.parametrize(
    ("items", "source", "field"),
    [
        pytest.param([upsert("a")], "yaml", "source", id="unknown-source"),
        pytest.param([upsert("a"), upsert("a")], "config", "name", id="duplicate-name"),
        pytest.param([upsert("a", overlap="sometimes")], "config", "overlap", id="overlap"),
        pytest.param([upsert("a", retries=-1)], "config", "retries", id="negative-retries"),
        pytest.param([upsert("a", retries="3")], "config", "retries", id="retries-not-int"),
        pytest.param([upsert("a", at=T0)], "config", "spec", id="spec-not-json"),
        pytest.param(
            [ScheduleUpsert("a", {}, T0.replace(tzinfo=None), T0)],
            "config",
            "next_fire_at",
            id="naive-next-fire",
        ),
    ],
)
def test_bad_sync_input_raises_and_writes_nothing(
    store: Store, items: list[ScheduleUpsert], source: str, field: str
) -> None:
    store.sync_schedules([upsert("kept")], "config", T0)
    before = store.list_schedules(include_retired=True)

    with pytest.raises(InvalidSpecError) as caught:
        store.sync_schedules([upsert("b"), *items], source, LATER)

    assert caught.value.field == field
    assert store.list_schedules(include_retired=True) == before


def test_sync_never_touches_runs(store: Store) -> None:
    store.sync_schedules([upsert("a")], "config", T0)
    store.enqueue_due(T0, 10, minutely)
    before = runs_of(store)

    store.sync_schedules([upsert("a", hour=3)], "config", LATER)
    store.sync_schedules([], "config", LATER)

    assert runs_of(store) == before


def test_get_schedule_of_an_unknown_name_is_none(store: Store) -> None:
    assert store.get_schedule("nope") is None


def test_pause_and_resume(store: Store) -> None:
    add_schedule(store, "a")

    paused = store.set_paused("a", True, LATER)
    assert (paused.paused, paused.version, paused.updated_at) == (True, 2, LATER)
    assert store.get_schedule("a") == paused

    again = store.set_paused("a", True, LATER + MINUTE)  # no change, no new version
    assert again == paused

    resumed = store.set_paused("a", False, LATER + MINUTE)
    assert (resumed.paused, resumed.version, resumed.updated_at) == (False, 3, LATER + MINUTE)
    assert resumed.next_fire_at == T0  # pausing never moves the schedule itself


def test_pausing_an_unknown_schedule_raises_and_changes_nothing(store: Store) -> None:
    add_schedule(store, "a")
    before = store.list_schedules(include_retired=True)

    with pytest.raises(ScheduleNotFoundError) as caught:
        store.set_paused("nope", True, LATER)

    assert caught.value.name == "nope"
    assert store.list_schedules(include_retired=True) == before
