"""``PlanSpec``: what the scheduler and the monitor read of a stored schedule at each pass,
parsed once per distinct definition rather than per schedule; it must give the same values
as those fields of ``ScheduleSpec``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tickwork.errors import InvalidSpecError
from tickwork.spec import PlanSpec, ScheduleSpec, trigger_of, validate_schedule

FIELDS = (
    "cron",
    "every",
    "at",
    "tz",
    "start_at",
    "end_at",
    "catchup",
    "catchup_window",
    "catchup_limit",
    "misfire_grace",
    "jitter",
    "overdue_after",
)
TABLES: list[dict[str, Any]] = [
    {"name": "plain", "every": "1m", "task": "jobs:run"},
    {
        "name": "nightly",
        "cron": "0 3 * * *",
        "tz": "Europe/Berlin",
        "task": "jobs:run",
        "retries": 3,
        "catchup": "all",
        "catchup_limit": 7,
        "catchup_window": "2h",
        "misfire_grace": "30s",
        "jitter": "5m",
        "overdue_after": "1h",
    },
    {
        "name": "bounded",
        "cron": "*/5 * * * * *",
        "start_at": "2026-01-01T00:00:00+01:00",
        "end_at": "2026-12-31T00:00:00-05:00",
        "command": "true",
        "catchup": "skip",
    },
    {"name": "once", "at": "2026-12-04T06:00:00+00:00", "command": "true"},
]


@pytest.mark.parametrize("table", TABLES, ids=[t["name"] for t in TABLES])
def test_a_plan_spec_reads_what_the_schedule_spec_parses(table: dict[str, Any]) -> None:
    stored = validate_schedule(table)
    full, plan = ScheduleSpec.from_stored(stored), PlanSpec.from_stored(stored)
    assert {f: getattr(plan, f) for f in FIELDS} == {f: getattr(full, f) for f in FIELDS}
    assert plan.max_attempts == full.retry.max_attempts


def test_a_stored_null_reads_as_the_schedule_spec_reads_it() -> None:
    # A key present with null (a hand-edited row) is not the same as a key left out.
    stored = {**validate_schedule({"name": "n", "every": "1m", "command": "x"})}
    stored |= {"misfire_grace": None, "jitter": None, "catchup_window": None}
    full, plan = ScheduleSpec.from_stored(stored), PlanSpec.from_stored(stored)
    assert {f: getattr(plan, f) for f in FIELDS} == {f: getattr(full, f) for f in FIELDS}


def test_schedules_that_differ_only_in_name_and_task_share_one_parsed_spec() -> None:
    first = validate_schedule({"name": "tenant-1", "cron": "0 9 * * *", "task": "a:b"})
    second = validate_schedule({"name": "tenant-2", "cron": "0 9 * * *", "command": "true"})
    assert PlanSpec.from_stored(first) is PlanSpec.from_stored(second)


def test_only_an_interval_trigger_depends_on_its_anchor() -> None:
    at_one, at_two = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 0, 0, 7, tzinfo=UTC)
    cron = PlanSpec.from_stored(validate_schedule({"name": "c", "cron": "* * * * *", "task": "a"}))
    assert trigger_of(cron, at_one) is trigger_of(cron, at_two)
    every = PlanSpec.from_stored(validate_schedule({"name": "e", "every": "1m", "task": "a"}))
    after = datetime(2026, 1, 1, 0, 5, 30, tzinfo=UTC)
    assert trigger_of(every, at_one).next_after(after) == datetime(2026, 1, 1, 0, 6, tzinfo=UTC)
    assert trigger_of(every, at_two).next_after(after) == datetime(2026, 1, 1, 0, 6, 7, tzinfo=UTC)


def test_a_bad_stored_duration_is_an_error_naming_it() -> None:
    stored = {**validate_schedule({"name": "x", "every": "1m", "command": "true"}), "jitter": "?"}
    with pytest.raises(InvalidSpecError) as err:
        PlanSpec.from_stored(stored)
    assert err.value.field == "jitter"
