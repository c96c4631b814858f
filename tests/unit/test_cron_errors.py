"""Invalid cron expressions: each error names the field, the value and what was expected,
and says retrying cannot help (DESIGN.md promise 6; CRON_SEMANTICS.md 1 and 5)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tickwork.errors import InvalidSpecError, TickworkError
from tickwork.triggers import CronTrigger, build_trigger

CASES = [
    # (expression, field, value, a phrase of `expected`)
    pytest.param("61 * * * *", "minute", "61", "0-59", id="minute-out-of-range"),
    pytest.param("* 24 * * *", "hour", "24", "0-23", id="hour-out-of-range"),
    pytest.param("* * 0 * *", "day-of-month", "0", "1-31", id="day-of-month-zero"),
    pytest.param("* * 32 * *", "day-of-month", "32", "1-31", id="day-of-month-32"),
    pytest.param("* * * 13 *", "month", "13", "1-12 or JAN-DEC", id="month-13"),
    pytest.param("* * * * 8", "day-of-week", "8", "0-7", id="day-of-week-8"),
    pytest.param("60 * * * * *", "second", "60", "0-59", id="second-out-of-range"),
    pytest.param("*/0 * * * *", "step", "*/0", "whole number >= 1", id="step-zero"),
    pytest.param("*/x * * * *", "step", "*/x", "whole number >= 1", id="step-not-a-number"),
    pytest.param("22-2 * * * *", "minute", "22-2", "low <= high", id="reversed-range"),
    pytest.param("* 2-0 * * *", "hour", "2-0", "low <= high", id="sunday-wrap-only-in-dow"),
    pytest.param("* * * NOV-MAR *", "month", "NOV-MAR", "low <= high", id="reversed-months"),
    pytest.param("* * * JANU *", "month", "JANU", "JAN-DEC", id="unknown-month-name"),
    pytest.param("* * * * web", "day-of-week", "web", "SUN-SAT", id="unknown-day-name"),
    pytest.param("0 0 ¹ * *", "day-of-month", "¹", "1-31", id="non-ascii-digit"),
    pytest.param("* * * * MON#6", "day-of-week", "MON#6", "1 to 5", id="hash-6"),
    pytest.param("* * * * MON#0", "day-of-week", "MON#0", "1 to 5", id="hash-0"),
    pytest.param("* * * * MONL", "day-of-week", "MONL", "0-7", id="name-before-L"),
    pytest.param("0 0 15W,20 * *", "day-of-month", "15W,20", "whole day-of-month", id="W-list"),
    pytest.param("0 0 32W * *", "day-of-month", "32", "1-31", id="32W"),
    pytest.param("0 0 L/2 * *", "day-of-month", "L", "1-31", id="L-with-step"),
    # Open points of CRON_SEMANTICS.md 5, decided: rejected.
    pytest.param("0 0 L-2 * *", "day-of-month", "L", "1-31", id="L-minus-n-rejected"),
    pytest.param("0 0 W15 * *", "day-of-month", "W15", "1-31", id="W-prefix-rejected"),
    pytest.param("0 0 29-L * *", "day-of-month", "L", "1-31", id="range-to-L-rejected"),
    pytest.param("0 0 * * L5", "day-of-week", "L5", "0-7", id="croniter-Ln-rejected"),
    pytest.param("@DAILY", "macro", "@DAILY", "@daily", id="macros-lower-case-only"),
    pytest.param("@reboot", "macro", "@reboot", "@hourly", id="reboot-has-no-next-time"),
    pytest.param("@every 5m", "macro", "@every 5m", "@yearly", id="every-macro"),
    pytest.param("? * * * *", "minute", "?", "whole day-of-month", id="question-in-minute"),
    pytest.param("H * * * *", "minute", "H", "hashed", id="hashed-H"),
    pytest.param("", "cron", "", "5 fields", id="empty"),
    pytest.param("* * * *", "cron", "* * * *", "5 fields", id="four-fields"),
    pytest.param("0 0 11 * * 0 2060", "cron", "0 0 11 * * 0 2060", "6 with", id="year-field"),
    pytest.param("TZ=UTC 0 3 * * *", "cron", "TZ=UTC", "no TZ=", id="tz-prefix"),
    pytest.param("1,,2 * * * *", "minute", "1,,2", "comma-separated", id="empty-list-item"),
]


@pytest.mark.parametrize(("expr", "field", "value", "expected"), CASES)
def test_invalid_expression_error_names_field_value_and_expectation(
    expr: str, field: str, value: str, expected: str
) -> None:
    with pytest.raises(InvalidSpecError) as caught:
        CronTrigger(expr)

    error = caught.value
    assert error.field == field
    assert error.value == value
    assert expected in error.expected
    assert error.retryable is False
    assert error.expected in str(error)
    if expr:
        assert repr(expr) in str(error), "the message quotes the whole expression"


@pytest.mark.parametrize(
    "expr",
    [
        pytest.param("0 0 30 2 *", id="feb-30"),
        pytest.param("* * 31 2 *", id="feb-31"),
        pytest.param("59 23 31 2 *", id="kubernetes-rogue-cronjob"),
        pytest.param("0 0 0 31 Apr ?", id="april-31-six-fields"),
        pytest.param("0 0 31 4,6,9,11 *", id="31st-of-30-day-months"),
        pytest.param("1 1 */100 * MON#4", id="first-of-month-and-fourth-monday"),
        pytest.param("0 0 30W 2 *", id="30W-in-february"),
    ],
)
def test_never_firing_expression_fails_when_defined(expr: str) -> None:
    # A complete check: the Gregorian calendar repeats every 400 years (CRON_SEMANTICS.md 2).
    with pytest.raises(InvalidSpecError, match="never fires") as caught:
        CronTrigger(expr)

    assert caught.value.field == "cron"
    assert caught.value.retryable is False
    with pytest.raises(InvalidSpecError, match="never fires"):
        build_trigger(cron=expr)


def test_rare_but_possible_expression_is_accepted() -> None:
    trigger = CronTrigger("0 0 * 2 MON#5")  # a 40-year gap, 2072 -> 2112

    assert trigger.next_after(datetime(2045, 1, 1, tzinfo=UTC)) == datetime(2072, 2, 29, tzinfo=UTC)


def test_invalid_spec_error_is_a_value_error_and_a_tickwork_error() -> None:
    with pytest.raises(InvalidSpecError) as caught:
        CronTrigger("61 * * * *")

    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, TickworkError)


def test_expression_that_is_not_text_is_refused_with_an_invalid_spec_error() -> None:
    # Found by this test: a non-text expression used to fail with AttributeError.
    with pytest.raises(InvalidSpecError) as caught:
        build_trigger(cron=15)  # type: ignore[arg-type]

    assert caught.value.field == "cron"
    assert caught.value.value == 15
