"""Durations as written in config and on the command line (``every``, ``timeout``...)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tickwork.durations import format_duration, parse_duration
from tickwork.errors import InvalidSpecError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("90s", timedelta(seconds=90), id="seconds"),
        pytest.param("15m", timedelta(minutes=15), id="minutes"),
        pytest.param("1h30m", timedelta(hours=1, minutes=30), id="hours-and-minutes"),
        pytest.param("1d", timedelta(days=1), id="days"),
        pytest.param("2w", timedelta(weeks=2), id="weeks"),
        pytest.param("500ms", timedelta(milliseconds=500), id="milliseconds"),
        pytest.param("1m5s", timedelta(minutes=1, seconds=5), id="m-then-s-is-not-ms"),
        pytest.param(
            "1w2d3h4m5s6ms",
            timedelta(weeks=1, days=2, hours=3, minutes=4, seconds=5, milliseconds=6),
            id="every-unit-largest-first",
        ),
        pytest.param(" 15M ", timedelta(minutes=15), id="blanks-and-upper-case"),
        pytest.param("01m", timedelta(minutes=1), id="leading-zero"),
        pytest.param("3600s", timedelta(hours=1), id="large-count"),
    ],
)
def test_parse_duration_reads_compact_units(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("", "empty every", id="empty"),
        pytest.param("   ", "empty every", id="blank"),
        pytest.param("0s", "zero every", id="zero"),
        pytest.param("0h0m", "zero every", id="zero-in-parts"),
        pytest.param("5", "bad every", id="no-unit"),
        pytest.param("m", "bad every", id="no-number"),
        pytest.param("-5m", "bad every", id="negative"),
        pytest.param("1.5h", "bad every", id="fraction"),
        pytest.param("15 m", "bad every", id="blank-inside"),
        pytest.param("1h 30m", "bad every", id="blank-between-parts"),
        pytest.param("1y", "bad every", id="unknown-unit"),
        pytest.param("1m30", "bad every", id="trailing-number"),
        pytest.param("1m1h", "out of order", id="units-out-of-order"),
        pytest.param("1h1h", "out of order or repeated", id="unit-repeated"),
    ],
)
def test_parse_duration_errors_name_the_field_value_and_form(text: str, message: str) -> None:
    with pytest.raises(InvalidSpecError, match=message) as caught:
        parse_duration(text, "every")

    assert caught.value.field == "every"
    assert caught.value.value == text
    assert "15m" in caught.value.expected or "greater than zero" in caught.value.expected
    assert caught.value.retryable is False


def test_parse_duration_names_the_field_it_was_given_for() -> None:
    with pytest.raises(InvalidSpecError) as caught:
        parse_duration("soon", "timeout")

    assert caught.value.field == "timeout"
    assert "timeout" in str(caught.value)


def test_zero_is_allowed_only_when_asked_for() -> None:
    assert parse_duration("0s", allow_zero=True) == timedelta(0)


def test_duration_that_is_not_text_is_refused() -> None:
    with pytest.raises(InvalidSpecError, match="must be text"):
        parse_duration(15)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(timedelta(seconds=5400), "1h30m", id="hours-and-minutes"),
        pytest.param(timedelta(seconds=90), "1m30s", id="minutes-and-seconds"),
        pytest.param(timedelta(days=9), "1w2d", id="weeks-and-days"),
        pytest.param(timedelta(days=14, seconds=1), "2w1s", id="skips-empty-units"),
        pytest.param(timedelta(milliseconds=1500), "1s500ms", id="milliseconds"),
        pytest.param(timedelta(0), "0s", id="zero"),
    ],
)
def test_format_duration_writes_the_compact_form(value: timedelta, expected: str) -> None:
    assert format_duration(value) == expected


@settings(deadline=None, max_examples=300)
@given(st.integers(1, 10**12).map(lambda ms: timedelta(milliseconds=ms)))
def test_format_duration_reads_back_to_the_same_duration(value: timedelta) -> None:
    assert parse_duration(format_duration(value)) == value
