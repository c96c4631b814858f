"""``AttemptSpec``: what the worker reads for every run, without parsing the whole schedule;
it must give the same values as those fields of ``ScheduleSpec``."""

from __future__ import annotations

from typing import Any

import pytest

from tickwork.errors import InvalidSpecError
from tickwork.spec import AttemptSpec, ScheduleSpec, validate_schedule

FIELDS = ("task", "command", "stdin", "env", "shell", "cwd", "timeout", "isolated")


@pytest.mark.parametrize(
    "table",
    [
        {"name": "plain", "every": "1m", "task": "jobs:run"},
        {
            "name": "iso",
            "cron": "0 3 * * *",
            "task": "jobs:run",
            "isolated": True,
            "timeout": "90s",
        },
        {
            "name": "cmd",
            "cron": "*/5 * * * *",
            "tz": "Europe/Berlin",
            "command": "backup --all",
            "stdin": "yes\n",
            "env": {"B": "2", "A": "1"},
            "shell": "/bin/bash",
            "cwd": "/srv",
            "timeout": "1h30m",
            "retries": 3,
        },
        {"name": "once", "at": "2026-12-04T06:00:00+00:00", "command": "true"},
    ],
)
def test_an_attempt_spec_reads_what_the_schedule_spec_parses(table: dict[str, Any]) -> None:
    stored = validate_schedule(table)
    full, attempt = ScheduleSpec.from_stored(stored), AttemptSpec.from_stored(stored)
    assert {f: getattr(attempt, f) for f in FIELDS} == {f: getattr(full, f) for f in FIELDS}


def test_a_bad_stored_timeout_is_an_error_naming_it() -> None:
    stored = {
        **validate_schedule({"name": "x", "every": "1m", "command": "true"}),
        "timeout": "soon",
    }
    with pytest.raises(InvalidSpecError) as err:
        AttemptSpec.from_stored(stored)
    assert err.value.field == "timeout"
