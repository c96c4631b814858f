"""Cron across DST transitions: the rule of CRON_SEMANTICS.md 3.1 (cronie's), case by case.

Fixed-time jobs run once at the first instant after a gap and once, at the first occurrence,
in a repeated hour; wildcard jobs (seconds, minute or hour field starting with ``*``) run at
every real occurrence and not at all for skipped wall times.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from tickwork.triggers import CronTrigger, fires
from tickwork.triggers.cronexpr import parse_cron


def next_fires(expr: str, tz: str, after: str, count: int) -> list[str]:
    trigger = CronTrigger(expr, ZoneInfo(tz))
    return [f.isoformat() for f in fires(trigger, datetime.fromisoformat(after), count)]


CASES = [
    # -- Europe/Berlin: 2024-03-31 02:00 CET -> 03:00 CEST; 2024-10-27 03:00 CEST -> 02:00 CET
    pytest.param(
        "30 2 * * *",
        "Europe/Berlin",
        "2024-03-30T12:00:00+01:00",
        ["2024-03-31T03:00:00+02:00", "2024-04-01T02:30:00+02:00"],
        id="berlin-daily-0230-skipped-runs-at-gap-end",
    ),
    pytest.param(
        "0 2,3 * * *",
        "Europe/Berlin",
        "2024-03-31T00:00:00+01:00",
        ["2024-03-31T03:00:00+02:00", "2024-04-01T02:00:00+02:00", "2024-04-01T03:00:00+02:00"],
        id="berlin-02-and-03-collapse-into-one-fire",
    ),
    pytest.param(
        "*/30 * * * *",
        "Europe/Berlin",
        "2024-03-31T01:15:00+01:00",
        ["2024-03-31T01:30:00+01:00", "2024-03-31T03:00:00+02:00", "2024-03-31T03:30:00+02:00"],
        id="berlin-every-30-min-has-no-skipped-slots",
    ),
    pytest.param(
        "30 2 * * *",
        "Europe/Berlin",
        "2024-10-26T12:00:00+02:00",
        ["2024-10-27T02:30:00+02:00", "2024-10-28T02:30:00+01:00"],
        id="berlin-daily-0230-runs-once-in-repeated-hour",
    ),
    pytest.param(
        "*/30 * * * *",
        "Europe/Berlin",
        "2024-10-27T01:45:00+02:00",
        [
            "2024-10-27T02:00:00+02:00",
            "2024-10-27T02:30:00+02:00",
            "2024-10-27T02:00:00+01:00",
            "2024-10-27T02:30:00+01:00",
            "2024-10-27T03:00:00+01:00",
        ],
        id="berlin-every-30-min-runs-in-both-passes",
    ),
    # -- America/New_York: 2024-03-10 02:00 EST -> 03:00 EDT; 2024-11-03 02:00 EDT -> 01:00 EST
    pytest.param(
        "30 2 * * *",
        "America/New_York",
        "2024-03-09T12:00:00-05:00",
        ["2024-03-10T03:00:00-04:00", "2024-03-11T02:30:00-04:00"],
        id="ny-daily-0230-skipped-runs-at-0300",
    ),
    pytest.param(
        "0 30 2 * * *",
        "America/New_York",
        "2024-03-09T12:00:00-05:00",
        ["2024-03-10T03:00:00-04:00", "2024-03-11T02:30:00-04:00"],
        id="ny-six-field-follows-the-same-rule",
    ),
    pytest.param(
        "*/15 2 * * *",
        "America/New_York",
        "2024-03-10T00:00:00-05:00",
        ["2024-03-11T02:00:00-04:00", "2024-03-11T02:15:00-04:00"],
        id="ny-wildcard-minute-in-skipped-hour-does-not-fire",
    ),
    pytest.param(
        "30 1 * * *",
        "America/New_York",
        "2024-11-02T12:00:00-04:00",
        ["2024-11-03T01:30:00-04:00", "2024-11-04T01:30:00-05:00"],
        id="ny-daily-0130-runs-once-at-first-occurrence",
    ),
    pytest.param(
        "30 1 * * *",
        "America/New_York",
        "2024-11-03T01:10:00-05:00",
        ["2024-11-04T01:30:00-05:00"],
        id="ny-after-in-second-pass-is-strictly-after-in-real-time",
    ),
    pytest.param(
        "0 * * * *",
        "America/New_York",
        "2024-11-03T00:30:00-04:00",
        [
            "2024-11-03T01:00:00-04:00",
            "2024-11-03T01:00:00-05:00",
            "2024-11-03T02:00:00-05:00",
        ],
        id="ny-hourly-runs-every-real-hour-including-the-repeat",
    ),
    pytest.param(
        "*/30 1 * * *",
        "America/New_York",
        "2024-11-03T00:00:00-04:00",
        [
            "2024-11-03T01:00:00-04:00",
            "2024-11-03T01:30:00-04:00",
            "2024-11-03T01:00:00-05:00",
            "2024-11-03T01:30:00-05:00",
        ],
        id="ny-wildcard-minute-in-repeated-hour-runs-twice",
    ),
    # -- Australia/Lord_Howe: 30-minute shifts. 2024-10-06 02:00 -> 02:30 (+10:30 -> +11:00);
    #    2024-04-07 02:00 -> 01:30 (+11:00 -> +10:30)
    pytest.param(
        "15 2 * * *",
        "Australia/Lord_Howe",
        "2024-10-05T12:00:00+10:30",
        ["2024-10-06T02:30:00+11:00", "2024-10-07T02:15:00+11:00"],
        id="lord-howe-0215-skipped-runs-at-0230",
    ),
    pytest.param(
        "0 * * * *",
        "Australia/Lord_Howe",
        "2024-10-06T00:30:00+10:30",
        ["2024-10-06T01:00:00+10:30", "2024-10-06T03:00:00+11:00"],
        id="lord-howe-hourly-skips-0200-so-fires-are-90-minutes-apart",
    ),
    pytest.param(
        "45 1 * * *",
        "Australia/Lord_Howe",
        "2024-04-06T12:00:00+11:00",
        ["2024-04-07T01:45:00+11:00", "2024-04-08T01:45:00+10:30"],
        id="lord-howe-0145-runs-once-in-the-repeated-half-hour",
    ),
    pytest.param(
        "*/15 * * * *",
        "Australia/Lord_Howe",
        "2024-04-07T01:20:00+11:00",
        [
            "2024-04-07T01:30:00+11:00",
            "2024-04-07T01:45:00+11:00",
            "2024-04-07T01:30:00+10:30",
            "2024-04-07T01:45:00+10:30",
            "2024-04-07T02:00:00+10:30",
        ],
        id="lord-howe-every-15-min-runs-in-both-half-hour-passes",
    ),
    # -- DST at midnight: the day starts at 01:00
    pytest.param(
        "0 0 * * *",
        "America/Sao_Paulo",
        "2018-11-02T12:00:00-03:00",
        ["2018-11-03T00:00:00-03:00", "2018-11-04T01:00:00-02:00", "2018-11-05T00:00:00-02:00"],
        id="sao-paulo-2018-midnight-job-runs-at-0100",
    ),
    pytest.param(
        "30 0 * * *",
        "America/Sao_Paulo",
        "2018-11-03T12:00:00-03:00",
        ["2018-11-04T01:00:00-02:00", "2018-11-05T00:30:00-02:00"],
        id="sao-paulo-2018-0030-runs-at-gap-end",
    ),
    pytest.param(
        "30 23 * * *",
        "America/Sao_Paulo",
        "2019-02-16T12:00:00-02:00",
        ["2019-02-16T23:30:00-02:00", "2019-02-17T23:30:00-03:00"],
        id="sao-paulo-2019-2330-runs-once-when-midnight-falls-back",
    ),
    pytest.param(
        "0 0 * * *",
        "Asia/Tehran",
        "2022-03-20T12:00:00+03:30",
        ["2022-03-21T00:00:00+03:30", "2022-03-22T01:00:00+04:30", "2022-03-23T00:00:00+04:30"],
        id="tehran-2022-midnight-job-runs-at-0100",
    ),
    pytest.param(
        "0 0 * * *",
        "America/Havana",
        "2024-03-09T12:00:00-05:00",
        ["2024-03-10T01:00:00-04:00", "2024-03-11T00:00:00-04:00"],
        id="havana-2024-midnight-job-runs-at-0100",
    ),
    pytest.param(
        "0 0 * * *",
        "America/Havana",
        "2024-11-02T12:00:00-04:00",
        ["2024-11-03T00:00:00-04:00", "2024-11-04T00:00:00-05:00"],
        id="havana-2024-repeated-midnight-runs-once",
    ),
    # -- a whole day skipped: Pacific/Apia jumped from 2011-12-29 24:00 -10:00 to 2011-12-31
    #    00:00 +14:00. Decided (CRON_SEMANTICS.md 5): a tz-database change is not a clock
    #    correction, so the simple rule applies to gaps longer than 3 hours too.
    pytest.param(
        "0 3 * * *",
        "Pacific/Apia",
        "2011-12-28T12:00:00-10:00",
        ["2011-12-29T03:00:00-10:00", "2011-12-31T00:00:00+14:00", "2011-12-31T03:00:00+14:00"],
        id="apia-skipped-day-runs-its-fixed-job-at-gap-end",
    ),
    pytest.param(
        "0 * * * *",
        "Pacific/Apia",
        "2011-12-29T21:30:00-10:00",
        ["2011-12-29T22:00:00-10:00", "2011-12-29T23:00:00-10:00", "2011-12-31T00:00:00+14:00"],
        id="apia-hourly-has-no-fires-in-the-skipped-day",
    ),
    # -- odd offsets
    pytest.param(
        "0 3 * * *",
        "Pacific/Chatham",
        "2024-09-28T12:00:00+12:45",
        ["2024-09-29T03:45:00+13:45", "2024-09-30T03:00:00+13:45"],
        id="chatham-0300-skipped-runs-at-0345",
    ),
    pytest.param(
        "30 9 * * *",
        "Asia/Kolkata",
        "2024-06-01T00:00:00Z",
        ["2024-06-01T09:30:00+05:30", "2024-06-02T09:30:00+05:30"],
        id="kolkata-half-hour-offset",
    ),
]


@pytest.mark.parametrize(("expr", "tz", "after", "expected"), CASES)
def test_fires_across_dst_follow_the_cronie_rule(
    expr: str, tz: str, after: str, expected: list[str]
) -> None:
    assert next_fires(expr, tz, after, len(expected)) == expected


@pytest.mark.parametrize(
    ("expr", "wildcard"),
    [
        pytest.param("* 2 * * *", True, id="star-minute"),
        pytest.param("*/15 * * * *", True, id="star-step-minute"),
        pytest.param("0 */3 * * *", True, id="star-step-hour"),
        pytest.param("@hourly", True, id="hourly-macro"),
        pytest.param("*/10 30 2 * * *", True, id="star-seconds"),
        pytest.param("30 2 * * *", False, id="fixed"),
        pytest.param("0 1,2,3 * * *", False, id="enumerated-hours"),
        pytest.param("0 1-5 * * *", False, id="hour-range"),
        pytest.param("0 0-23 * * *", False, id="full-range-is-not-a-star"),
        pytest.param("@daily", False, id="daily-macro"),
        pytest.param("0 30 2 * * *", False, id="six-field-fixed"),
    ],
)
def test_job_class_comes_from_the_text_of_the_time_fields(expr: str, wildcard: bool) -> None:
    assert parse_cron(expr).wildcard is wildcard


def test_every_15_minutes_stays_15_real_minutes_apart_through_both_transitions() -> None:
    tz = ZoneInfo("America/New_York")
    trigger = CronTrigger("*/15 * * * *", tz)

    for start in ("2024-03-10T00:00:00-05:00", "2024-11-03T00:00:00-04:00"):
        got = list(fires(trigger, datetime.fromisoformat(start), 24))
        gaps = {b.timestamp() - a.timestamp() for a, b in pairwise(got)}
        assert gaps == {timedelta(minutes=15).total_seconds()}, start


def test_daily_fixed_job_runs_exactly_once_on_every_day_of_a_dst_year() -> None:
    tz = ZoneInfo("Europe/Berlin")
    trigger = CronTrigger("30 2 * * *", tz)

    got = list(fires(trigger, datetime.fromisoformat("2024-01-01T00:00:00+01:00"), 366))

    assert [f.astimezone(tz).date().toordinal() for f in got] == list(
        range(datetime(2024, 1, 1).toordinal(), datetime(2025, 1, 1).toordinal())
    )
