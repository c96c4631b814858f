"""RevisionStore: schedule changes applied and recorded as one revision, on every store."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tickwork.errors import InvalidSpecError, RevisionConflictError, ScheduleConflictError
from tickwork.store import Store
from tickwork.store.base import DefinitionChange, Revision, RevisionStore

from .conftest import MINUTE, T0, Backend, add_schedule

ROUNDS = 15
TIMEOUT = 60  # a safety net only


def revisions_of(store: Store) -> RevisionStore:
    assert isinstance(store, RevisionStore)
    return store


def put(name: str, cron: str = "* * * * *", source: str = "config") -> DefinitionChange:
    return DefinitionChange(name, source, {"cron": cron}, T0 + MINUTE, T0)


def apply(store: Store, *changes: DefinitionChange, **kwargs: Any) -> Revision | None:
    kwargs.setdefault("applied_by", "test")
    kwargs.setdefault("source", "apply")
    kwargs.setdefault("now", T0)
    return revisions_of(store).apply_revision(list(changes), **kwargs)


def test_a_revision_records_the_definitions_before_and_after(store: Store) -> None:
    first = apply(store, put("a"), put("b"))
    assert first is not None
    assert first.number == 1
    assert first.before == {}
    assert first.after == {
        "a": {"spec": {"cron": "* * * * *"}, "source": "config"},
        "b": {"spec": {"cron": "* * * * *"}, "source": "config"},
    }
    second = apply(store, put("a", "0 3 * * *"), DefinitionChange("b", "config", None))
    assert second is not None
    assert (second.number, second.summary) == (
        2,
        {"added": [], "changed": ["a"], "retired": ["b"]},
    )
    assert second.before == {
        "a": {"spec": {"cron": "* * * * *"}, "source": "config"},
        "b": {"spec": {"cron": "* * * * *"}, "source": "config"},
    }
    assert second.after == {"a": {"spec": {"cron": "0 3 * * *"}, "source": "config"}}
    revs = revisions_of(store)
    assert revs.latest_revision() == 2
    assert revs.get_revision(2) == second
    assert [r.number for r in revs.list_revisions()] == [2, 1]
    assert [r.number for r in revs.list_revisions(after=1)] == [2]
    b = store.get_schedule("b")
    assert b is not None
    assert b.retired
    a = store.get_schedule("a")
    assert a is not None
    assert (a.spec, a.version) == ({"cron": "0 3 * * *"}, 2)


def test_changes_already_in_effect_record_nothing(store: Store) -> None:
    apply(store, put("a"))
    assert apply(store, put("a"), DefinitionChange("gone", "config", None)) is None
    assert revisions_of(store).latest_revision() == 1


def test_a_retired_schedule_that_comes_back_is_added_with_its_history_row(store: Store) -> None:
    apply(store, put("a"))
    apply(store, DefinitionChange("a", "config", None))
    back = apply(store, put("a", "0 3 * * *"))
    assert back is not None
    assert back.summary["added"] == ["a"]
    assert back.before == {}
    row = store.get_schedule("a")
    assert row is not None
    assert not row.retired
    assert row.version == 3


def test_a_stale_expected_revision_is_refused_and_changes_nothing(store: Store) -> None:
    apply(store, put("a"))
    apply(store, put("a", "0 3 * * *"), expect_revision=1)
    with pytest.raises(RevisionConflictError) as caught:
        apply(store, put("a", "0 4 * * *"), put("new"), expect_revision=1)
    assert (caught.value.expected, caught.value.found, caught.value.retryable) == (1, 2, False)
    row = store.get_schedule("a")
    assert row is not None
    assert row.spec == {"cron": "0 3 * * *"}
    assert store.get_schedule("new") is None
    assert revisions_of(store).latest_revision() == 2


def test_a_name_owned_by_another_source_is_refused_and_changes_nothing(store: Store) -> None:
    add_schedule(store, "mine", source="code")
    with pytest.raises(ScheduleConflictError):
        apply(store, put("other"), put("mine"))
    assert store.get_schedule("other") is None
    assert revisions_of(store).latest_revision() == 0


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        pytest.param([put("a"), put("a")], "name", id="name-twice"),
        pytest.param([DefinitionChange("a", "cli", {"cron": "* * * * *"}, T0, T0)], "source"),
        pytest.param([DefinitionChange("a", "config", {"cron": "* * * * *"})], "anchor"),
        pytest.param([DefinitionChange("a", "config", {"retries": -1}, T0, T0)], "retries"),
    ],
)
def test_bad_changes_are_refused_before_anything_is_written(
    store: Store, changes: list[DefinitionChange], field: str
) -> None:
    with pytest.raises(InvalidSpecError) as caught:
        apply(store, *changes)
    assert caught.value.field == field
    assert store.list_schedules(include_retired=True) == []
    assert revisions_of(store).latest_revision() == 0


def test_of_two_applies_against_the_same_revision_exactly_one_wins(backend: Backend) -> None:
    """Each thread has its own store (own connections), like two `tickwork apply` runs."""
    stores = [backend.open() for _ in range(2)]
    try:
        stores[0].upgrade()
        for round_ in range(ROUNDS):
            latest = revisions_of(stores[0]).latest_revision()
            barrier = threading.Barrier(2, timeout=TIMEOUT)

            def race(
                i: int,
                latest: int = latest,
                round_: int = round_,
                barrier: threading.Barrier = barrier,
            ) -> str:
                barrier.wait()
                try:
                    apply(
                        stores[i],
                        put("shared", f"{round_} {i} * * *"),
                        put(f"only-{i}-{round_}"),
                        expect_revision=latest,
                    )
                except RevisionConflictError:
                    return "refused"
                return "applied"

            with ThreadPoolExecutor(2) as pool:
                outcomes = list(pool.map(race, range(2), timeout=TIMEOUT))
            assert sorted(outcomes) == ["applied", "refused"]
            winner = outcomes.index("applied")
            row = stores[0].get_schedule("shared")
            assert row is not None
            assert row.spec == {"cron": f"{round_} {winner} * * *"}
            assert stores[0].get_schedule(f"only-{1 - winner}-{round_}") is None
            assert revisions_of(stores[0]).latest_revision() == latest + 1
    finally:
        for opened in stores:
            opened.close()
