"""Plans and revisions, pure: what a plan says, what applying it leaves, undoing revisions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tickwork.errors import ConfigError
from tickwork.model import ScheduleRow
from tickwork.revisions import (
    Definition,
    Plan,
    changes_for,
    current_set,
    field_changes,
    make_plan,
    plan_json,
    planned_set,
    render_plan,
    render_revision,
    state_at,
)
from tickwork.scheduler import first_fire
from tickwork.spec import ScheduleSpec, validate_schedule
from tickwork.store.base import Revision

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday
ANCHOR = datetime(2026, 3, 1, 0, 0, 7, tzinfo=UTC)


def spec(name: str, **keys: Any) -> dict[str, Any]:
    if not {"cron", "every", "at"} & set(keys):
        keys["cron"] = "0 3 * * *"
    keys.setdefault("command", "true")
    return validate_schedule({"name": name, **keys})


def row(name: str, source: str = "config", *, retired: bool = False, **keys: Any) -> ScheduleRow:
    stored = spec(name, **keys)
    parsed = ScheduleSpec.from_stored(stored)
    return ScheduleRow(
        id=abs(hash(name)) % 10_000,
        name=name,
        spec=stored,
        source=source,
        paused=False,
        retired=retired,
        next_fire_at=None if retired else first_fire(parsed, ANCHOR, NOW),
        last_fire_at=None,
        anchor=ANCHOR,
        created_at=ANCHOR,
        updated_at=ANCHOR,
        version=1,
    )


def config(*specs: dict[str, Any]) -> dict[str, Definition]:
    return {s["name"]: Definition(s, "config") for s in specs}


def plan_of(
    rows: list[ScheduleRow], wanted: dict[str, Definition], manages: str = "config"
) -> Plan:
    return make_plan(rows, wanted, manages={manages}, now=NOW, base_revision=4, label="test")


def test_a_plan_says_added_changed_field_by_field_retired_and_unchanged() -> None:
    rows = [row("nightly"), row("old"), row("same", every="15m")]
    wanted = config(
        spec("nightly", cron="30 2 * * *", tz="Europe/Berlin"),
        spec("same", every="15m"),
        spec("report", cron="0 8 * * mon"),
    )
    plan = plan_of(rows, wanted)
    assert plan.summary() == {"added": ["report"], "changed": ["nightly"], "retired": ["old"]}
    assert plan.unchanged == ("same",)
    (changed,) = [c for c in plan.changes if c.kind == "changed"]
    assert [(f.key, f.before, f.after) for f in changed.fields] == [
        ("cron", "0 3 * * *", "30 2 * * *"),
        ("tz", "UTC", "Europe/Berlin"),
    ]


def test_next_fires_before_and_after_are_in_the_schedules_zone() -> None:
    plan = plan_of([row("nightly")], config(spec("nightly", cron="0 3 * * *", tz="Asia/Tokyo")))
    (change,) = plan.changes
    assert [f.isoformat() for f in change.fires_before] == [
        "2026-03-03T03:00:00+00:00",
        "2026-03-04T03:00:00+00:00",
        "2026-03-05T03:00:00+00:00",
    ]
    assert [f.isoformat() for f in change.fires_after] == [
        "2026-03-03T03:00:00+09:00",
        "2026-03-04T03:00:00+09:00",
        "2026-03-05T03:00:00+09:00",
    ]
    text = render_plan(plan)
    assert "next fires before: Tue 2026-03-03 03:00 UTC" in text
    assert "next fires after:  Tue 2026-03-03 03:00 JST" in text


def test_a_config_plan_never_retires_code_or_api_schedules() -> None:
    rows = [row("from-code", "code"), row("from-api", "api"), row("from-config")]
    plan = plan_of(rows, {})
    assert plan.summary() == {"added": [], "changed": [], "retired": ["from-config"]}


def test_wanting_a_name_another_source_owns_is_a_problem_listed_with_the_others() -> None:
    rows = [row("a", "code"), row("b", "api")]
    with pytest.raises(ConfigError) as caught:
        plan_of(rows, config(spec("a"), spec("b")))
    assert [p.value for p in caught.value.problems] == ["a", "b"]
    assert "defined by code" in str(caught.value)


def test_a_retired_schedule_that_comes_back_is_added_and_keeps_its_anchor() -> None:
    rows = [row("poll", every="1h", retired=True)]
    plan = plan_of(rows, config(spec("poll", every="1h")))
    assert plan.summary()["added"] == ["poll"]
    (change,) = changes_for(plan, rows, NOW)
    assert change.anchor == ANCHOR
    # Anchored at 00:00:07 on March 1st: the phase is kept, the first fire is after now.
    assert change.next_fire_at == datetime(2026, 3, 2, 12, 0, 7, tzinfo=UTC)


def test_changes_are_computed_at_the_instant_they_are_applied() -> None:
    rows = [row("nightly")]
    plan = plan_of(rows, config(spec("nightly", cron="0 * * * *")))
    later = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)  # confirmed two and a half hours later
    (change,) = changes_for(plan, rows, later)
    assert change.next_fire_at == datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def test_secrets_are_hidden_in_plans_and_revision_diffs() -> None:
    wanted = config(
        spec("poll", command="curl https://bot:hunter2@feeds.example/", env={"API_KEY": "k1"})
    )
    plan = plan_of([], wanted)
    text = render_plan(plan) + str(plan_json(plan))
    revision = Revision(1, NOW, "t", "apply", {}, {"poll": wanted["poll"].to_json()}, {})
    text += render_revision(revision)
    assert "hunter2" not in text
    assert "k1" not in text
    assert "https://***@feeds.example/" in text


# -- invariants ----------------------------------------------------------------------------

NAMES = st.sampled_from(["a", "b", "c", "d", "e"])
CRONS = st.sampled_from(["0 3 * * *", "*/5 * * * *", "0 8 * * mon"])
SPECS = st.builds(lambda name, cron: spec(name, cron=cron), NAMES, CRONS)
SETS = st.lists(SPECS, max_size=5, unique_by=lambda s: s["name"]).map(
    lambda specs: {s["name"]: s for s in specs}
)


def rows_of(specs: dict[str, dict[str, Any]], source: str = "config") -> list[ScheduleRow]:
    return [row(n, source, cron=s["cron"]) for n, s in specs.items()]


@given(SETS)
def test_planning_what_is_stored_changes_nothing(a: dict[str, dict[str, Any]]) -> None:
    plan = plan_of(rows_of(a), config(*a.values()))
    assert plan.empty
    assert sorted(plan.unchanged) == sorted(a)


@given(SETS, SETS)
def test_applying_the_plan_from_a_to_b_gives_b(
    a: dict[str, dict[str, Any]], b: dict[str, dict[str, Any]]
) -> None:
    rows = rows_of(a)
    plan = plan_of(rows, config(*b.values()))
    assert planned_set(current_set(rows), plan) == config(*b.values())
    assert all(f.before != f.after for c in plan.changes for f in c.fields)


@given(SETS, SETS)
def test_undoing_a_revision_gives_the_set_before_it(
    a: dict[str, dict[str, Any]], b: dict[str, dict[str, Any]]
) -> None:
    rows = rows_of(a)
    plan = plan_of(rows, config(*b.values()))
    before = {c.name: {"spec": c.before, "source": "config"} for c in plan.changes if c.before}
    after = {c.name: {"spec": c.after, "source": "config"} for c in plan.changes if c.after}
    revision = Revision(5, NOW, "t", "apply", before, after, plan.summary())
    assert state_at(config(*b.values()), [revision]) == current_set(rows)


@given(SETS, SETS)
def test_other_sources_are_never_touched_by_a_config_plan(
    code: dict[str, dict[str, Any]], b: dict[str, dict[str, Any]]
) -> None:
    wanted = {n: s for n, s in b.items() if n not in code}
    plan = plan_of(rows_of(code, "code"), config(*wanted.values()))
    assert not {c.name for c in plan.changes} & set(code)


def test_field_changes_see_a_key_set_to_its_value_and_a_key_removed() -> None:
    assert [f.key for f in field_changes({"a": 1}, {"a": 1, "b": None})] == ["b"]
    assert [(f.key, f.before, f.after) for f in field_changes({"a": 1}, {})] == [("a", 1, None)]
