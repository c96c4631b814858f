"""Inputs past what tickwork can represent are refused with an InvalidSpecError, never an
OverflowError later (found by fuzzing the HTTP API): durations over 100 years, instants
outside years 1-9999 in UTC, retries and catch-up limits past their columns; an interval
whose next fire would pass year 9999 has none."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tickwork.durations import parse_duration
from tickwork.errors import ConfigError, InvalidSpecError
from tickwork.spec import validate_schedule
from tickwork.triggers.interval import IntervalTrigger
from tickwork.zones import parse_instant


@pytest.mark.parametrize("text", ["36501d", "99999999999d", "5300w", "3153600001s"])
def test_durations_over_100_years_are_refused(text: str) -> None:
    with pytest.raises(InvalidSpecError) as caught:
        parse_duration(text, "jitter")
    assert caught.value.field == "jitter"
    assert "100 years" in caught.value.expected


def test_a_duration_of_100_years_is_accepted() -> None:
    assert parse_duration("36500d") == timedelta(days=36500)


@pytest.mark.parametrize(
    "text", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:00:00-01:00"]
)
def test_instants_outside_years_1_to_9999_in_utc_are_refused(text: str) -> None:
    with pytest.raises(InvalidSpecError) as caught:
        parse_instant(text, "since")
    assert caught.value.field == "since"
    assert "9999" in caught.value.expected


def test_the_last_instant_of_year_9999_in_utc_is_accepted() -> None:
    assert parse_instant("9999-12-31T23:59:59+00:00") == datetime(
        9999, 12, 31, 23, 59, 59, tzinfo=UTC
    )


def test_an_interval_has_no_fire_past_year_9999() -> None:
    trigger = IntervalTrigger(timedelta(hours=1), datetime(9999, 12, 31, 22, 0, tzinfo=UTC))
    last = trigger.next_after(datetime(9999, 12, 31, 22, 30, tzinfo=UTC))
    assert last == datetime(9999, 12, 31, 23, 0, tzinfo=UTC)
    assert trigger.next_after(last) is None


@pytest.mark.parametrize(
    ("key", "value"),
    [("retries", 1001), ("retries", 10**30), ("catchup_limit", 1_000_001)],
)
def test_counts_past_their_bound_are_refused(key: str, value: int) -> None:
    with pytest.raises(ConfigError) as caught:
        validate_schedule({"name": "x", "every": "1h", "command": "true", key: value})
    (problem,) = caught.value.problems
    assert problem.field == key
    assert "from 0 to" in problem.expected
