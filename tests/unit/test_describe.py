"""Plain-English descriptions, true to tickwork's semantics: "or" when both day fields are
restricted, "only" when one of them starts with ``*`` (CRON_SEMANTICS.md 2)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tickwork.triggers import (
    BoundedTrigger,
    CronTrigger,
    IntervalTrigger,
    OnceTrigger,
    build_trigger,
)
from tickwork.triggers.cronexpr import parse_cron
from tickwork.triggers.describe import describe, describe_cron


@pytest.mark.parametrize(
    ("expr", "text"),
    [
        pytest.param("0 3 * * *", "At 03:00, every day", id="daily-at-three"),
        pytest.param("30 2 * * *", "At 02:30, every day", id="daily-at-half-past-two"),
        pytest.param("@daily", "At 00:00, every day", id="daily-macro"),
        pytest.param("0 0,12 * * *", "At 00:00 and 12:00, every day", id="twice-a-day"),
        pytest.param("15 30 2 * * *", "At 02:30:15, every day", id="with-seconds"),
        pytest.param("*/15 * * * *", "Every 15 minutes, every day", id="every-15-minutes"),
        pytest.param("* * * * *", "Every minute, every day", id="every-minute"),
        pytest.param("*/5 * * * * *", "Every 5 seconds, every day", id="every-5-seconds"),
        pytest.param("0 */2 * * *", "At minute 0, every 2 hours, every day", id="every-2-hours"),
        pytest.param(
            "0 8-17 * * *",
            "At minute 0, during hours 8 through 17, every day",
            id="office-hours",
        ),
        pytest.param("15,45 * * * *", "At minute 15 and 45, every day", id="two-minutes"),
        pytest.param("0 9 * * 1-5", "At 09:00, on Monday through Friday", id="weekdays-by-number"),
        pytest.param("0 9 * * MON-FRI", "At 09:00, on Monday through Friday", id="weekdays"),
        pytest.param("0 12 * * 0,6", "At 12:00, on Sunday and Saturday", id="weekend"),
        pytest.param("@weekly", "At 00:00, on Sunday", id="weekly"),
        pytest.param("@monthly", "At 00:00, on day 1 of the month", id="monthly"),
        pytest.param("@yearly", "At 00:00, on day 1 of the month, in January", id="yearly"),
        pytest.param("0 0 * 6-8 *", "At 00:00, every day, in June through August", id="summer"),
        pytest.param("0 0 L * *", "At 00:00, on the last day of the month", id="L"),
        pytest.param("0 0 LW * *", "At 00:00, on the last weekday of the month", id="LW"),
        pytest.param(
            "0 0 15W * *", "At 00:00, on the weekday nearest day 15", id="nearest-weekday"
        ),
        pytest.param("0 0 * * 5L", "At 00:00, on the last Friday of the month", id="last-friday"),
        pytest.param(
            "0 0 * * MON#2", "At 00:00, on the second Monday of the month", id="second-monday"
        ),
        # Both day fields restricted: either one matching fires (cronie, Vixie).
        pytest.param(
            "30 4 1,15 * 5",
            "At 04:30, on day 1 and 15 of the month or on Friday",
            id="or-rule-man-page-example",
        ),
        pytest.param(
            "0 0 13 * 5",
            "At 00:00, on day 13 of the month or on Friday",
            id="or-rule-is-not-friday-the-13th",
        ),
        # One day field starts with '*': both must match.
        pytest.param(
            "0 16 */2 * sat",
            "At 16:00, on Saturday, only on every 2 days from the 1st",
            id="and-rule-star-step-dom",
        ),
        pytest.param(
            "0 0 */100,1-7 * MON",
            "At 00:00, on Monday, only on day 1 through 7 of the month",
            id="and-rule-first-monday",
        ),
        pytest.param("0 0 ? * 1", "At 00:00, on Monday", id="question-mark-is-a-star"),
    ],
)
def test_describe_cron_in_plain_english(expr: str, text: str) -> None:
    assert describe_cron(parse_cron(expr)) == text
    assert describe(CronTrigger(expr)) == text


def test_or_and_and_rules_read_differently() -> None:
    either = describe_cron(parse_cron("0 0 1-7 * MON"))
    both = describe_cron(parse_cron("0 0 */2 * MON"))

    assert " or " in either
    assert " only " in both
    assert " or " not in both


def test_describe_interval_once_and_bounds() -> None:
    anchor = datetime(2024, 1, 1, tzinfo=UTC)
    interval = IntervalTrigger(timedelta(minutes=15), anchor)
    once = OnceTrigger(datetime.fromisoformat("2026-12-24T18:00:00+01:00"))
    bounded = BoundedTrigger(
        CronTrigger("0 3 * * *"), start_at=anchor, end_at=datetime(2024, 12, 31, tzinfo=UTC)
    )

    assert describe(interval) == "Every 15m from 2024-01-01T00:00:00+00:00"
    assert describe(once) == "Once, at 2026-12-24T18:00:00+01:00"
    assert describe(bounded) == (
        "At 03:00, every day, from 2024-01-01T00:00:00+00:00, until 2024-12-31T00:00:00+00:00"
    )


def test_describe_a_built_interval_names_its_duration_compactly() -> None:
    trigger = build_trigger(every="1h30m", anchor=datetime(2024, 1, 1, tzinfo=UTC))

    assert describe(trigger).startswith("Every 1h30m from ")
