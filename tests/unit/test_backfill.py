"""Backfill's pure parts: bounds as typed on the command line, the fires of a range."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tickwork.backfill import backfill_fires, parse_bound
from tickwork.errors import InvalidSpecError
from tickwork.triggers import build_trigger
from tickwork.triggers.cron import CronTrigger

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("2026-03-01T00:00:00+01:00", "2026-02-28T23:00:00+00:00", id="offset"),
        pytest.param("2026-03-01T00:00Z", "2026-03-01T00:00:00+00:00", id="zulu"),
        pytest.param("2026-07-01T00:00 Europe/Berlin", "2026-06-30T22:00:00+00:00", id="zone"),
        pytest.param("2026-07-01T00:00", "2026-06-30T22:00:00+00:00", id="schedule-zone"),
        pytest.param("2026-07-01", "2026-06-30T22:00:00+00:00", id="date-in-zone"),
    ],
)
def test_bounds(text: str, expected: str) -> None:
    assert parse_bound(text, "from", BERLIN).astimezone(UTC).isoformat() == expected


@pytest.mark.parametrize(
    ("text", "tz", "message"),
    [
        pytest.param("2026-07-01T00:00", None, "--to '2026-07-01T00:00' has no offset", id="naive"),
        pytest.param("tomorrow", BERLIN, "bad --to 'tomorrow'", id="words"),
        pytest.param("2026-07-01T00:00 Nowhere/Land", BERLIN, "unknown time zone", id="zone"),
        pytest.param("2026-07-01T00:00+02:00 UTC", BERLIN, "both an offset and a zone", id="both"),
    ],
)
def test_bad_bounds_name_the_option(text: str, tz: ZoneInfo | None, message: str) -> None:
    with pytest.raises(InvalidSpecError) as err:
        parse_bound(text, "to", tz)
    assert err.value.field == "to"
    assert message in str(err.value)


def test_the_expected_form_names_every_accepted_form() -> None:
    with pytest.raises(InvalidSpecError) as err:
        parse_bound("tomorrow", "from", BERLIN)
    assert err.value.expected == (
        "an ISO 8601 instant with offset (2026-03-01T00:00:00+01:00), "
        "a local time with an IANA zone (2026-03-01T00:00 Europe/Berlin), "
        "or a local time (2026-03-01T00:00, taken in the schedule's zone, Europe/Berlin)"
    )
    with pytest.raises(InvalidSpecError) as err:
        parse_bound("2026-07-01T00:00", "from")  # no schedule zone: a bare time is refused
    assert "taken in the schedule's zone" not in err.value.expected
    assert "a local time with an IANA zone" in err.value.expected


def test_the_range_includes_both_ends() -> None:
    hourly = build_trigger(cron="0 * * * *", tz=BERLIN)
    start = datetime(2026, 3, 29, 0, tzinfo=BERLIN)  # the spring-forward night
    end = datetime(2026, 3, 29, 4, tzinfo=BERLIN)
    assert [f.astimezone(UTC).isoformat() for f in backfill_fires(hourly, start, end)] == [
        "2026-03-28T23:00:00+00:00",
        "2026-03-29T00:00:00+00:00",
        "2026-03-29T01:00:00+00:00",  # 03:00 CEST: 02:00 does not exist
        "2026-03-29T02:00:00+00:00",
    ]


TRIGGERS = st.sampled_from(
    [
        build_trigger(cron="*/7 * * * *", tz=BERLIN),
        build_trigger(cron="30 2 * * *", tz=BERLIN),
        build_trigger(every="45m", anchor=datetime(2026, 1, 1, tzinfo=UTC)),
    ]
)


@settings(deadline=None, max_examples=100)
@given(
    TRIGGERS,
    st.datetimes(datetime(2026, 1, 1), datetime(2027, 1, 1), timezones=st.just(UTC)),
    st.timedeltas(timedelta(0), timedelta(days=3)),
)
def test_the_fires_of_a_range_are_the_triggers_fires_within_it(trigger, start, span) -> None:  # type: ignore[no-untyped-def]
    end = start + span
    got = list(backfill_fires(trigger, start, end))
    assert all(start <= f <= end for f in got)
    assert all(a < b for a, b in pairwise(got))
    # Nothing skipped: the fire after the last one is past the end, the one before the
    # first is before the start.
    after = trigger.next_after(got[-1] if got else start - timedelta(microseconds=1))
    assert after is None or after > end
    if got:
        # In UTC: an aware datetime in a repeated hour (02:00 Berlin, 25 Oct) never compares
        # equal to one of another zone (PEP 495), even for the same instant.
        first = trigger.next_after(start - timedelta(microseconds=1))
        assert first is not None
        assert first.astimezone(UTC) == got[0].astimezone(UTC)


def test_fires_in_the_hour_repeated_when_dst_ends_come_in_order() -> None:
    # Found by the property above: in Berlin's repeated hour, 02:56 CEST (00:56Z) comes before
    # 02:00 CET (01:00Z), but two datetimes in one zone compare by wall clock.
    trigger = CronTrigger("*/7 * * * *", tz=ZoneInfo("Europe/Berlin"))
    start = datetime(2026, 10, 25, 0, 50, tzinfo=UTC)
    got = list(backfill_fires(trigger, start, start + timedelta(minutes=20)))
    assert got == [
        datetime(2026, 10, 25, 0, 56, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 0, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 7, tzinfo=UTC),
    ]
    assert all(a < b for a, b in pairwise(got))
    assert all(f.utcoffset() == timedelta(0) for f in got)
