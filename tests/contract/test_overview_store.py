"""``OverviewStore`` on every store: the latest runs of a page of schedules in one read, the
next schedules to fire from the index, and the counts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tickwork.errors import InvalidSpecError
from tickwork.store import Store
from tickwork.store.base import RunFilter, ScheduleUpsert
from tickwork.store.overview_base import OverviewStore, ScheduleCounts

from .conftest import MINUTE, T0, add_schedule


@pytest.fixture
def overview(store: Store) -> OverviewStore:
    assert isinstance(store, OverviewStore)
    return store


def test_recent_runs_gives_each_schedule_its_latest_runs_newest_first(
    store: Store, overview: OverviewStore
) -> None:
    for name in ("a", "b", "quiet"):
        add_schedule(store, name)
    made: dict[str, list[int]] = {"a": [], "b": []}
    for i in range(7):  # interleaved, so ids of a and b alternate
        for name in ("a", "b"):
            if name == "b" and i >= 2:
                continue
            run = store.trigger(name, T0 + timedelta(seconds=i))
            made[name].append(run.id)

    found = overview.recent_runs(["a", "b", "quiet", "ghost"], per_schedule=3)

    assert {k: [r.id for r in v] for k, v in found.items()} == {
        "a": made["a"][::-1][:3],
        "b": made["b"][::-1],
        "quiet": [],
        "ghost": [],
    }
    # The same runs, field for field, as the per-schedule query the page used to make.
    assert found["a"] == store.list_runs(RunFilter(schedule="a", limit=3))


def test_recent_runs_refuses_a_bad_bound_and_reads_nothing_for_no_names(
    overview: OverviewStore,
) -> None:
    assert overview.recent_runs([], per_schedule=20) == {}
    with pytest.raises(InvalidSpecError) as caught:
        overview.recent_runs(["a"], per_schedule=0)
    assert caught.value.field == "per_schedule"
    with pytest.raises(InvalidSpecError):
        overview.recent_runs([f"s{i}" for i in range(501)], per_schedule=1)


def test_next_up_is_soonest_first_without_paused_retired_or_finished_schedules(
    store: Store, overview: OverviewStore
) -> None:
    add_schedule(store, "later", next_fire_at=T0 + 9 * MINUTE)
    add_schedule(store, "soon-b", next_fire_at=T0 + MINUTE)
    add_schedule(store, "soon-a", next_fire_at=T0 + MINUTE)
    add_schedule(store, "paused", next_fire_at=T0)
    add_schedule(store, "done", next_fire_at=None)
    store.set_paused("paused", True, T0)
    store.sync_schedules(
        [ScheduleUpsert("gone", {"cron": "* * * * *"}, T0, anchor=T0)], "config", T0
    )
    store.sync_schedules([], "config", T0)  # retires "gone"

    assert [r.name for r in overview.next_up(10)] == ["soon-a", "soon-b", "later"]
    assert [r.name for r in overview.next_up(1)] == ["soon-a"]
    assert overview.schedule_counts() == ScheduleCounts(live=5, paused=1)
    with pytest.raises(InvalidSpecError):
        overview.next_up(0)
