"""Which days and times cron expressions select (CRON_SEMANTICS.md 1 and 2), in UTC so that
only the calendar is under test: leap years, the 31st, ``L``, ``W``, ``LW``, ``#``, ``nL``,
the day-of-month/day-of-week rule, names, Sunday as 0 and 7, steps and macros."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from tickwork.triggers import CronTrigger, fires


def next_fires(expr: str, after: str, count: int) -> list[str]:
    trigger = CronTrigger(expr, UTC)
    return [f.isoformat() for f in fires(trigger, datetime.fromisoformat(after), count)]


def day(iso_date: str) -> str:
    return f"{iso_date}T00:00:00+00:00"


CASES = [
    # -- leap years
    pytest.param(
        "0 0 29 2 *",
        "2024-03-01T00:00:00Z",
        [day("2028-02-29"), day("2032-02-29"), day("2036-02-29")],
        id="feb-29-only-in-leap-years",
    ),
    pytest.param(
        "0 0 29 2 *",
        "2096-03-01T00:00:00Z",
        [day("2104-02-29"), day("2108-02-29")],
        id="feb-29-skips-2100-which-is-not-leap",
    ),
    pytest.param(
        "0 0 29 2 *",
        "1999-01-01T00:00:00Z",
        [day("2000-02-29"), day("2004-02-29")],
        id="feb-29-in-2000-which-is-leap",
    ),
    # -- the 31st
    pytest.param(
        "0 0 31 * *",
        "2024-01-01T00:00:00Z",
        [
            day("2024-01-31"),
            day("2024-03-31"),
            day("2024-05-31"),
            day("2024-07-31"),
            day("2024-08-31"),
            day("2024-10-31"),
            day("2024-12-31"),
        ],
        id="the-31st-only-in-31-day-months",
    ),
    # -- L: last day of the month
    pytest.param(
        "0 0 L 2 *",
        "2023-01-01T00:00:00Z",
        [day("2023-02-28"), day("2024-02-29"), day("2025-02-28")],
        id="L-in-february-of-common-and-leap-years",
    ),
    pytest.param(
        "0 0 L 2 *",
        "2099-03-01T00:00:00Z",
        [day("2100-02-28"), day("2101-02-28")],
        id="L-in-february-2100",
    ),
    pytest.param(
        "0 0 L * *",
        "2024-01-01T00:00:00Z",
        [day("2024-01-31"), day("2024-02-29"), day("2024-03-31"), day("2024-04-30")],
        id="L-every-month",
    ),
    pytest.param(
        "0 0 1,5,29,L 2 *",
        "2023-01-01T00:00:00Z",
        [day("2023-02-01"), day("2023-02-05"), day("2023-02-28"), day("2024-02-01")],
        id="L-in-a-list-with-29-in-a-common-february",
    ),
    # -- LW and nW: weekdays, never leaving the month
    pytest.param(
        "0 0 LW * *",
        "2024-03-01T00:00:00Z",
        [day("2024-03-29"), day("2024-04-30"), day("2024-05-31")],
        id="LW-last-weekday-friday-when-month-ends-on-sunday",
    ),
    pytest.param(
        "0 0 15W * *",
        "2024-06-01T00:00:00Z",
        [day("2024-06-14"), day("2024-07-15"), day("2024-08-15")],
        id="15W-saturday-moves-to-friday",
    ),
    pytest.param(
        "0 9 1W * *",
        "2022-09-30T00:00:00Z",
        ["2022-10-03T09:00:00+00:00", "2022-11-01T09:00:00+00:00"],
        id="1W-saturday-the-1st-moves-forward-to-monday-the-3rd",
    ),
    pytest.param(
        "0 9 1W * *",
        "2023-10-01T00:00:00Z",
        ["2023-10-02T09:00:00+00:00"],
        id="1W-sunday-the-1st-moves-to-monday",
    ),
    pytest.param(
        "0 9 30W * *",
        "2024-06-01T00:00:00Z",
        ["2024-06-28T09:00:00+00:00"],
        id="30W-sunday-the-last-day-moves-back-to-friday",
    ),
    pytest.param(
        "0 9 31W * *",
        "2024-11-01T00:00:00Z",
        ["2024-12-31T09:00:00+00:00"],
        id="31W-does-not-fire-in-a-30-day-month",
    ),
    # -- n#k and nL
    pytest.param(
        "0 0 * * MON#1",
        "2024-01-01T00:00:00Z",
        [day("2024-02-05"), day("2024-03-04"), day("2024-04-01")],
        id="first-monday",
    ),
    pytest.param(
        "0 0 * * MON#5",
        "2024-01-01T00:00:00Z",
        [day("2024-01-29"), day("2024-04-29"), day("2024-07-29")],
        id="fifth-monday-only-in-months-that-have-one",
    ),
    pytest.param(
        "0 0 * 2 MON#5",
        "2024-01-01T00:00:00Z",
        [day("2044-02-29"), day("2072-02-29"), day("2112-02-29")],
        id="fifth-monday-of-february-has-a-40-year-gap",
    ),
    pytest.param(
        "0 0 * * 5L",
        "2024-01-01T00:00:00Z",
        [day("2024-01-26"), day("2024-02-23"), day("2024-03-29")],
        id="5L-last-friday",
    ),
    pytest.param(
        "0 0 * * 7L",
        "2024-01-01T00:00:00Z",
        [day("2024-01-28"), day("2024-02-25")],
        id="7L-last-sunday",
    ),
    pytest.param(
        "0 0 * * 6L,6#1",
        "2024-06-01T00:00:00Z",
        [day("2024-06-29"), day("2024-07-06"), day("2024-07-27")],
        id="specials-combine-as-a-union",
    ),
    pytest.param(
        "0 0 * * 1,2,3#1",
        "2024-06-01T00:00:00Z",
        [day("2024-06-03"), day("2024-06-04"), day("2024-06-05")],
        id="plain-weekdays-and-a-hash-in-one-list",
    ),
    # -- DOM/DOW rule: OR when both are restricted, AND when either starts with '*'
    pytest.param(
        "0 0 13 * 5",
        "2024-09-01T00:00:00Z",
        [day("2024-09-06"), day("2024-09-13"), day("2024-09-20")],
        id="13-and-friday-is-or-not-friday-the-13th",
    ),
    pytest.param(
        "0 0 */2 * SAT",
        "2024-06-01T00:00:00Z",
        [day("2024-06-15"), day("2024-06-29"), day("2024-07-13")],
        id="star-step-dom-with-saturday-is-and-odd-saturdays",
    ),
    pytest.param(
        "0 0 */100,1-7 * MON",
        "2024-06-01T00:00:00Z",
        [day("2024-06-03"), day("2024-07-01"), day("2024-08-05")],
        id="star-prefixed-list-forces-and-first-monday",
    ),
    pytest.param(
        "0 0 15 * FRI#2",
        "2024-06-01T00:00:00Z",
        [day("2024-06-14"), day("2024-06-15"), day("2024-07-12")],
        id="specials-count-as-restricted-so-or",
    ),
    pytest.param(
        "0 0 31 2 0",
        "2024-01-01T00:00:00Z",
        [day("2024-02-04"), day("2024-02-11"), day("2024-02-18")],
        id="impossible-dom-or-sunday-is-every-february-sunday",
    ),
    pytest.param(
        "0 0 ? * 1",
        "2024-06-01T00:00:00Z",
        [day("2024-06-03"), day("2024-06-10")],
        id="question-mark-is-a-star",
    ),
    pytest.param(
        "0 0 * * *,sat#3",
        "2024-06-01T00:00:00Z",
        [day("2024-06-02"), day("2024-06-03")],
        id="star-in-a-dow-list-is-every-day",
    ),
    # -- weekdays, names, Sunday
    pytest.param(
        "0 12 * * MON-FRI",
        "2024-06-07T00:00:00Z",
        ["2024-06-07T12:00:00+00:00", "2024-06-10T12:00:00+00:00"],
        id="weekdays-skip-the-weekend",
    ),
    pytest.param(
        "0 0 * * fri-sun",
        "2024-06-06T00:00:00Z",
        [day("2024-06-07"), day("2024-06-08"), day("2024-06-09"), day("2024-06-14")],
        id="range-ending-in-sunday-wraps-to-7",
    ),
    pytest.param("0 0 * * 7", "2024-06-06T00:00:00Z", [day("2024-06-09")], id="7-is-sunday"),
    pytest.param(
        "0 0 * * MON/2",
        "2024-06-03T00:00:00Z",
        [day("2024-06-05"), day("2024-06-07"), day("2024-06-09"), day("2024-06-10")],
        id="mon-step-2-runs-to-7-so-includes-sunday",
    ),
    pytest.param(
        "0 0 1 jan,JUL *",
        "2024-01-01T00:00:00Z",
        [day("2024-07-01"), day("2025-01-01")],
        id="month-names-any-case",
    ),
    # -- steps and values
    pytest.param(
        "*/35 * * * *",
        "2024-01-01T00:00:00Z",
        ["2024-01-01T00:35:00+00:00", "2024-01-01T01:00:00+00:00"],
        id="steps-do-not-carry-into-the-next-hour",
    ),
    pytest.param(
        "*/120 * * * *",
        "2024-01-01T00:00:00Z",
        ["2024-01-01T01:00:00+00:00", "2024-01-01T02:00:00+00:00"],
        id="step-larger-than-field-selects-the-first-value",
    ),
    pytest.param(
        "5/15 * * * *",
        "2024-01-01T00:00:00Z",
        [f"2024-01-01T00:{m}:00+00:00" for m in ("05", "20", "35", "50")],
        id="value-step-means-value-to-max",
    ),
    pytest.param(
        "0 0 5-5 * *",
        "2024-01-01T00:00:00Z",
        [day("2024-01-05"), day("2024-02-05")],
        id="equal-range-is-one-value",
    ),
    pytest.param(
        "00 03 16,30 * *",
        "2024-01-01T00:00:00Z",
        ["2024-01-16T03:00:00+00:00", "2024-01-30T03:00:00+00:00"],
        id="leading-zeros",
    ),
    pytest.param(
        "*/5 * * * * *",
        "2024-01-01T00:00:00Z",
        ["2024-01-01T00:00:05+00:00", "2024-01-01T00:00:10+00:00"],
        id="six-fields-seconds-first",
    ),
    pytest.param(
        "  0   0\t* * *  ",
        "2024-01-01T00:00:00Z",
        [day("2024-01-02")],
        id="blanks-and-tabs-between-fields",
    ),
    # -- macros
    pytest.param("@yearly", "2024-06-05T00:00:00Z", [day("2025-01-01")], id="yearly"),
    pytest.param("@annually", "2024-06-05T00:00:00Z", [day("2025-01-01")], id="annually"),
    pytest.param("@monthly", "2024-06-05T00:00:00Z", [day("2024-07-01")], id="monthly"),
    pytest.param("@weekly", "2024-06-05T00:00:00Z", [day("2024-06-09")], id="weekly-sunday"),
    pytest.param("@daily", "2024-06-05T10:00:00Z", [day("2024-06-06")], id="daily"),
    pytest.param("@midnight", "2024-06-05T10:00:00Z", [day("2024-06-06")], id="midnight"),
    pytest.param("@hourly", "2024-06-05T10:00:00Z", ["2024-06-05T11:00:00+00:00"], id="hourly"),
    # -- strictly after
    pytest.param(
        "* * * * *",
        "2024-01-01T00:00:00.500000Z",
        ["2024-01-01T00:01:00+00:00"],
        id="microseconds-in-after-are-not-a-fire",
    ),
    pytest.param(
        "0 0 * * 0",
        "2024-06-09T00:00:00Z",
        [day("2024-06-16")],
        id="a-fire-at-after-itself-is-not-returned",
    ),
    pytest.param(
        "0 12 * * *",
        "2024-06-05T14:00:00+05:30",
        ["2024-06-05T12:00:00+00:00"],
        id="after-in-a-foreign-offset-is-compared-in-real-time",
    ),
]


@pytest.mark.parametrize(("expr", "after", "expected"), CASES)
def test_calendar_selection(expr: str, after: str, expected: list[str]) -> None:
    assert next_fires(expr, after, len(expected)) == expected


def test_fires_are_returned_in_the_trigger_zone() -> None:
    berlin = CronTrigger("0 3 * * *", ZoneInfo("Europe/Berlin"))

    fire = berlin.next_after(datetime(2024, 1, 1, tzinfo=UTC))

    assert fire is not None
    assert fire.isoformat() == "2024-01-01T03:00:00+01:00"
    assert str(fire.tzinfo) == "Europe/Berlin"


def test_naive_instant_is_refused_with_the_field_named() -> None:
    with pytest.raises(ValueError, match="naive") as caught:
        CronTrigger("* * * * *").next_after(datetime(2024, 1, 1))

    assert getattr(caught.value, "field", None) == "after"


def test_a_fire_beyond_year_9999_is_none_not_an_error() -> None:
    assert CronTrigger("0 0 1 1 *").next_after(datetime(9999, 6, 1, tzinfo=UTC)) is None
