"""IANA zones by name and ISO 8601 instants with offsets, with errors that say what was
expected (CRON_SEMANTICS.md 3: the zone comes only from ``tz``; no TZ= prefixes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from tickwork.errors import InvalidSpecError
from tickwork.zones import load_zone, parse_instant


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("UTC", id="utc"),
        pytest.param("Europe/Berlin", id="berlin"),
        pytest.param("America/New_York", id="new-york"),
        pytest.param("Australia/Lord_Howe", id="lord-howe"),
        pytest.param("Asia/Kolkata", id="kolkata"),
        pytest.param("Etc/GMT+5", id="etc-gmt"),
    ],
)
def test_load_zone_returns_the_iana_zone(name: str) -> None:
    assert load_zone(name) == ZoneInfo(name)


def test_load_zone_ignores_surrounding_blanks() -> None:
    assert load_zone(" Europe/Berlin ") == ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        pytest.param("Mars/Base", "unknown time zone", id="unknown"),
        pytest.param("europe/berlin", "unknown time zone", id="names-are-case-sensitive"),
        pytest.param("TZ=Europe/Berlin", "TZ= prefix", id="tz-prefix"),
        pytest.param("CRON_TZ=UTC", "TZ= prefix", id="cron-tz-prefix"),
        pytest.param("", "empty tz", id="empty"),
        pytest.param("  ", "empty tz", id="blank"),
        pytest.param("/etc/localtime", "unknown time zone", id="absolute-path"),
        pytest.param("../../etc/passwd", "unknown time zone", id="relative-path"),
    ],
)
def test_load_zone_errors_name_tz_the_value_and_the_form(name: str, message: str) -> None:
    with pytest.raises(InvalidSpecError, match=message) as caught:
        load_zone(name)

    assert caught.value.field == "tz"
    assert caught.value.value == name
    assert "IANA time zone name" in caught.value.expected
    assert caught.value.retryable is False


def test_load_zone_names_the_field_it_was_given_for() -> None:
    with pytest.raises(InvalidSpecError) as caught:
        load_zone("Nowhere", "default_tz")

    assert caught.value.field == "default_tz"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "2026-12-24T18:00:00+01:00",
            datetime(2026, 12, 24, 18, tzinfo=timezone(timedelta(hours=1))),
            id="offset",
        ),
        pytest.param("2026-12-24T17:00:00Z", datetime(2026, 12, 24, 17, tzinfo=UTC), id="z"),
        pytest.param(
            " 2026-12-24T18:00+05:30 ",
            datetime(2026, 12, 24, 18, tzinfo=timezone(timedelta(hours=5, minutes=30))),
            id="no-seconds-and-blanks",
        ),
        pytest.param(
            "2026-12-24T18:00:00.123456-03:00",
            datetime(2026, 12, 24, 18, 0, 0, 123456, tzinfo=timezone(timedelta(hours=-3))),
            id="microseconds",
        ),
    ],
)
def test_parse_instant_keeps_the_written_offset(text: str, expected: datetime) -> None:
    value = parse_instant(text)

    assert value == expected
    assert value.utcoffset() == expected.utcoffset()


def test_parse_instant_accepts_an_aware_datetime_as_is() -> None:
    value = datetime(2024, 1, 1, tzinfo=ZoneInfo("Europe/Berlin"))

    assert parse_instant(value) is value


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param("2026-12-24T18:00:00", "no UTC offset", id="naive-text"),
        pytest.param("2026-12-24", "no UTC offset", id="date-only"),
        pytest.param(datetime(2026, 12, 24, 18), "no UTC offset", id="naive-datetime"),
        pytest.param("tomorrow", "bad after", id="not-iso"),
        pytest.param("", "bad after", id="empty"),
        pytest.param(1766595600, "must be text", id="a-number"),
    ],
)
def test_parse_instant_errors_name_the_field(value: object, message: str) -> None:
    with pytest.raises(InvalidSpecError, match=message) as caught:
        parse_instant(value, "after")  # type: ignore[arg-type]

    assert caught.value.field == "after"
    assert "UTC offset" in caught.value.expected
    assert caught.value.retryable is False
