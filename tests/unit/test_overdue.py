"""The overdue rule (policies/overdue.py): tables for the defaults, hypothesis for the
invariants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tickwork.policies.overdue import Overdue, decide_overdue, default_grace
from tickwork.triggers import Trigger, build_trigger

SETTINGS = settings(deadline=None, max_examples=200)
T0 = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
BERLIN = ZoneInfo("Europe/Berlin")


def cron(expr: str, tz: ZoneInfo | None = None) -> Trigger:
    return build_trigger(cron=expr, tz=tz or UTC)


def every(text: str) -> Trigger:
    return build_trigger(every=text, anchor=T0)


@pytest.mark.parametrize(
    ("trigger", "fire", "grace"),
    [
        pytest.param(every("10s"), T0, timedelta(seconds=10), id="10s-period-is-its-own-grace"),
        pytest.param(every("1m"), T0, timedelta(minutes=1), id="minutely-1m"),
        pytest.param(every("2m"), T0, timedelta(minutes=1), id="2m-half"),
        pytest.param(cron("0 * * * *"), T0, timedelta(minutes=30), id="hourly-30m"),
        pytest.param(cron("0 3 * * *"), T0 + timedelta(hours=3), timedelta(hours=12), id="daily"),
        # Friday 18:00 to Monday 18:00: the gap after the fire, not a fixed period.
        pytest.param(
            cron("0 18 * * 1-5"),
            datetime(2026, 3, 6, 18, tzinfo=UTC),
            timedelta(hours=36),
            id="weekday-cron-friday",
        ),
        pytest.param(
            build_trigger(at="2026-03-02T10:00:00+00:00"),
            datetime(2026, 3, 2, 10, tzinfo=UTC),
            timedelta(hours=1),
            id="one-off-1h",
        ),
    ],
)
def test_default_grace(trigger: Trigger, fire: datetime, grace: timedelta) -> None:
    assert default_grace(trigger, fire) == grace


def test_an_hourly_job_that_did_not_succeed_is_overdue_half_an_hour_after_its_fire() -> None:
    hourly = cron("0 * * * *")
    start = datetime.fromisoformat("2026-03-02T09:00:00+00:00")  # last success: the 09:00 fire
    at = datetime.fromisoformat
    assert decide_overdue(hourly, start=start, now=at("2026-03-02T10:29:59+00:00")) is None
    assert decide_overdue(hourly, start=start, now=at("2026-03-02T10:30:00+00:00")) == Overdue(
        fire=at("2026-03-02T10:00:00+00:00"), since=at("2026-03-02T10:30:00+00:00")
    )


def test_the_episode_keeps_its_first_fire_however_late_it_gets() -> None:
    hourly = cron("0 * * * *")
    start = datetime.fromisoformat("2026-03-02T09:00:00+00:00")
    verdict = decide_overdue(hourly, start=start, now=start + timedelta(days=3))
    assert verdict == Overdue(
        fire=datetime.fromisoformat("2026-03-02T10:00:00+00:00"),
        since=datetime.fromisoformat("2026-03-02T10:30:00+00:00"),
    )


def test_a_set_grace_and_the_jitter_replace_the_default() -> None:
    daily = cron("0 3 * * *", BERLIN)
    start = datetime.fromisoformat("2026-03-02T03:00:00+01:00")
    fire = datetime.fromisoformat("2026-03-03T03:00:00+01:00")
    verdict = decide_overdue(
        daily,
        start=start,
        now=fire + timedelta(hours=1),
        grace=timedelta(minutes=50),
        extra=timedelta(minutes=10),
    )
    assert verdict == Overdue(fire=fire, since=fire + timedelta(hours=1))
    assert (
        decide_overdue(
            daily,
            start=start,
            now=fire + timedelta(minutes=59),
            grace=timedelta(minutes=50),
            extra=timedelta(minutes=10),
        )
        is None
    )


def test_a_one_off_that_succeeded_is_never_overdue() -> None:
    once = build_trigger(at="2026-03-02T10:00:00+00:00")
    fire = datetime(2026, 3, 2, 10, tzinfo=UTC)
    assert decide_overdue(once, start=fire, now=fire + timedelta(days=365)) is None
    before = decide_overdue(once, start=T0, now=fire + timedelta(hours=1))
    assert before == Overdue(fire=fire, since=fire + timedelta(hours=1))


TRIGGERS = st.sampled_from(
    [
        every("10s"),
        every("7m"),
        every("1h30m"),
        cron("*/15 * * * *"),
        cron("0 3 * * *", BERLIN),
        cron("30 2 * * *", BERLIN),  # a wall time that DST skips on one day a year
        cron("0 18 * * 1-5"),
        cron("0 0 1 * *"),
    ]
)
INSTANTS = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)
GRACES = st.one_of(st.none(), st.timedeltas(timedelta(0), timedelta(days=3)))
OFFSETS = st.timedeltas(timedelta(0), timedelta(days=60))


@SETTINGS
@given(TRIGGERS, INSTANTS, OFFSETS, GRACES)
def test_overdue_means_the_first_fire_after_start_is_a_grace_old(
    trigger: Trigger, start: datetime, ahead: timedelta, grace: timedelta | None
) -> None:
    now = start + ahead
    verdict = decide_overdue(trigger, start=start, now=now, grace=grace)
    found = trigger.next_after(start)
    assert found is not None
    fire = found.astimezone(UTC)  # a grace is elapsed time: added to the instant
    allowed = default_grace(trigger, fire) if grace is None else grace
    assert (verdict is not None) == (now >= fire + allowed)
    if verdict is not None:
        assert verdict.fire == fire > start
        assert verdict.since == fire + allowed <= now


@SETTINGS
@given(TRIGGERS, INSTANTS, OFFSETS, OFFSETS, GRACES)
def test_once_overdue_it_stays_overdue_for_the_same_fire_until_a_success(
    trigger: Trigger, start: datetime, ahead: timedelta, more: timedelta, grace: timedelta | None
) -> None:
    """Monotone in ``now``, and the episode (fire, since) does not move as time passes."""
    first = decide_overdue(trigger, start=start, now=start + ahead, grace=grace)
    later = decide_overdue(trigger, start=start, now=start + ahead + more, grace=grace)
    if first is not None:
        assert later == first


@SETTINGS
@given(TRIGGERS, INSTANTS, OFFSETS)
def test_a_success_of_the_overdue_fire_ends_the_episode(
    trigger: Trigger, start: datetime, ahead: timedelta
) -> None:
    now = start + ahead
    verdict = decide_overdue(trigger, start=start, now=now)
    if verdict is not None:
        after = decide_overdue(trigger, start=verdict.fire, now=now)
        assert after is None or after.fire > verdict.fire


@SETTINGS
@given(TRIGGERS, INSTANTS)
def test_the_default_grace_is_between_a_minute_and_the_period(
    trigger: Trigger, instant: datetime
) -> None:
    fire = trigger.next_after(instant)
    assert fire is not None
    following = trigger.next_after(fire)
    assert following is not None
    grace = default_grace(trigger, fire)
    period = following - fire
    assert grace <= period
    assert grace >= min(period, timedelta(minutes=1))


def test_the_hour_repeated_when_dst_ends_has_a_positive_grace() -> None:
    # 02:56 CEST (00:56Z) is followed by 02:00 CET (01:00Z): 4 minutes later, though the
    # same zone's wall clock says 56 minutes earlier.
    from tickwork.triggers.cron import CronTrigger

    trigger = CronTrigger("*/7 * * * *", tz=ZoneInfo("Europe/Berlin"))
    start = datetime(2026, 10, 25, 0, 55, tzinfo=UTC)
    fire = trigger.next_after(start)
    assert fire is not None
    assert default_grace(trigger, fire) == timedelta(minutes=2)  # half the 4 min to the next
    verdict = decide_overdue(
        trigger, start=start, now=datetime(2026, 10, 25, 0, 58, 30, tzinfo=UTC)
    )
    assert verdict is not None
    assert verdict.fire == datetime(2026, 10, 25, 0, 56, tzinfo=UTC)
    assert verdict.since == datetime(2026, 10, 25, 0, 58, tzinfo=UTC)
