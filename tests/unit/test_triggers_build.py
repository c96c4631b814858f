"""``build_trigger`` and the interval, one-off, bounded and jittered triggers, by example."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tickwork.errors import InvalidSpecError
from tickwork.triggers import (
    BoundedTrigger,
    CronTrigger,
    IntervalTrigger,
    OnceTrigger,
    build_trigger,
    fires,
    jitter_offset,
    jittered,
)

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def iso(values: object) -> list[str]:
    return [v.isoformat() for v in values]  # type: ignore[attr-defined]


# -- build_trigger -------------------------------------------------------------------------


def test_build_trigger_cron_evaluates_in_the_given_zone() -> None:
    trigger = build_trigger(cron="0 3 * * *", tz=BERLIN)

    assert isinstance(trigger, CronTrigger)
    assert iso(fires(trigger, at("2024-01-01T00:00:00Z"), 2)) == [
        "2024-01-01T03:00:00+01:00",
        "2024-01-02T03:00:00+01:00",
    ]


def test_build_trigger_every_is_anchored_at_anchor() -> None:
    trigger = build_trigger(every="15m", anchor=at("2024-01-01T00:07:00Z"))

    assert isinstance(trigger, IntervalTrigger)
    assert iso(fires(trigger, at("2024-01-01T00:10:00Z"), 2)) == [
        "2024-01-01T00:22:00+00:00",
        "2024-01-01T00:37:00+00:00",
    ]


def test_build_trigger_every_falls_back_to_start_at_as_anchor() -> None:
    trigger = build_trigger(every="1h30m", start_at=at("2024-01-01T09:00:00+01:00"))

    assert iso(fires(trigger, at("2024-01-01T00:00:00Z"), 2)) == [
        "2024-01-01T09:00:00+01:00",
        "2024-01-01T10:30:00+01:00",
    ]


def test_build_trigger_at_accepts_iso_text_and_datetimes() -> None:
    from_text = build_trigger(at="2026-12-24T18:00:00+01:00")
    from_datetime = build_trigger(at=at("2026-12-24T17:00:00Z"))

    assert isinstance(from_text, OnceTrigger)
    assert from_text.next_after(at("2026-01-01T00:00:00Z")) == at("2026-12-24T17:00:00Z")
    assert from_datetime.next_after(at("2026-01-01T00:00:00Z")) == at("2026-12-24T17:00:00Z")


def test_build_trigger_with_bounds_wraps_the_trigger() -> None:
    trigger = build_trigger(
        cron="0 12 * * *",
        start_at=at("2024-01-02T00:00:00Z"),
        end_at=at("2024-01-03T12:00:00Z"),
    )

    assert isinstance(trigger, BoundedTrigger)
    assert iso(fires(trigger, at("2024-01-01T00:00:00Z"), 5)) == [
        "2024-01-02T12:00:00+00:00",
        "2024-01-03T12:00:00+00:00",
    ]


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        pytest.param({}, "trigger", "needs exactly one trigger", id="none"),
        pytest.param(
            {"cron": "* * * * *", "every": "1m"}, "trigger", "conflicting", id="cron-and-every"
        ),
        pytest.param(
            {"every": "1m", "at": "2026-01-01T00:00:00Z"}, "trigger", "conflicting", id="two"
        ),
        pytest.param({"every": "1m"}, "anchor", "anchor", id="every-without-anchor"),
        pytest.param(
            {"every": "fortnightly", "anchor": datetime(2024, 1, 1, tzinfo=UTC)},
            "every",
            "bad every",
            id="bad-every",
        ),
        pytest.param(
            {"every": "0s", "anchor": datetime(2024, 1, 1, tzinfo=UTC)},
            "every",
            "zero every",
            id="zero-every",
        ),
        pytest.param({"at": "2026-01-01T00:00:00"}, "at", "no UTC offset", id="naive-at"),
        pytest.param({"at": "next tuesday"}, "at", "bad at", id="bad-at"),
        pytest.param({"cron": "0 0 30 2 *"}, "cron", "never fires", id="never-fires"),
        pytest.param(
            {
                "cron": "* * * * *",
                "start_at": datetime(2024, 1, 2, tzinfo=UTC),
                "end_at": datetime(2024, 1, 1, tzinfo=UTC),
            },
            "end_at",
            "before start_at",
            id="end-before-start",
        ),
    ],
)
def test_build_trigger_errors_name_the_field(
    kwargs: dict[str, object], field: str, message: str
) -> None:
    with pytest.raises(InvalidSpecError, match=message) as caught:
        build_trigger(**kwargs)  # type: ignore[arg-type]

    assert caught.value.field == field
    assert caught.value.retryable is False


# -- interval: fixed rate in real time -----------------------------------------------------


def test_interval_fires_at_the_anchor_itself_when_after_is_earlier() -> None:
    trigger = IntervalTrigger(timedelta(minutes=10), at("2024-01-01T00:00:00Z"))

    assert trigger.next_after(at("2023-12-31T23:59:59Z")) == at("2024-01-01T00:00:00Z")
    assert trigger.next_after(at("2024-01-01T00:00:00Z")) == at("2024-01-01T00:10:00Z")


def test_interval_anchored_in_a_dst_zone_keeps_real_time_rate_across_spring_forward() -> None:
    # Found by the property tests: with a ZoneInfo anchor the rate used to be computed on
    # wall time, so 24 hourly fires spanned only 23 real hours on 2024-03-10 in New York.
    anchor = datetime(2024, 3, 9, 12, 0, tzinfo=NY)
    trigger = IntervalTrigger(timedelta(hours=1), anchor)

    got = list(fires(trigger, anchor, 24))

    assert got[-1].astimezone(UTC) - anchor.astimezone(UTC) == timedelta(hours=24)
    assert got[-1].isoformat() == "2024-03-10T13:00:00-04:00"
    assert iso(got[12:15]) == [
        "2024-03-10T01:00:00-05:00",
        "2024-03-10T03:00:00-04:00",
        "2024-03-10T04:00:00-04:00",
    ]


def test_interval_runs_through_the_repeated_hour_in_real_time() -> None:
    anchor = datetime(2024, 11, 3, 0, 0, tzinfo=NY)
    trigger = IntervalTrigger(timedelta(minutes=30), anchor)

    assert iso(fires(trigger, anchor, 5)) == [
        "2024-11-03T00:30:00-04:00",
        "2024-11-03T01:00:00-04:00",
        "2024-11-03T01:30:00-04:00",
        "2024-11-03T01:00:00-05:00",
        "2024-11-03T01:30:00-05:00",
    ]


def test_interval_refuses_non_positive_every_and_naive_anchor() -> None:
    with pytest.raises(InvalidSpecError) as caught:
        IntervalTrigger(timedelta(0), at("2024-01-01T00:00:00Z"))
    assert caught.value.field == "every"

    with pytest.raises(InvalidSpecError) as caught:
        IntervalTrigger(timedelta(minutes=1), datetime(2024, 1, 1))
    assert caught.value.field == "anchor"


# -- one-off -------------------------------------------------------------------------------


def test_once_fires_once_and_never_again() -> None:
    trigger = OnceTrigger(at("2026-12-24T18:00:00+01:00"))

    assert iso(fires(trigger, at("2026-01-01T00:00:00Z"), 3)) == ["2026-12-24T18:00:00+01:00"]
    assert trigger.next_after(at("2026-12-24T17:00:00Z")) is None


def test_once_in_the_second_pass_of_a_repeated_hour_is_after_the_first_pass() -> None:
    # Found by the property tests: datetimes sharing a ZoneInfo compared as wall times.
    second_pass = datetime(2024, 11, 3, 1, 30, fold=1, tzinfo=NY)  # 06:30Z
    first_pass = datetime(2024, 11, 3, 1, 45, tzinfo=NY)  # 05:45Z

    assert OnceTrigger(second_pass).next_after(first_pass) is second_pass


# -- bounds --------------------------------------------------------------------------------


def test_start_at_itself_may_fire_and_nothing_before_it() -> None:
    trigger = BoundedTrigger(CronTrigger("0 * * * *"), start_at=at("2024-01-01T05:00:00Z"))

    assert trigger.next_after(at("2024-01-01T00:00:00Z")) == at("2024-01-01T05:00:00Z")


def test_end_at_itself_may_fire_and_then_nothing() -> None:
    trigger = BoundedTrigger(CronTrigger("0 * * * *"), end_at=at("2024-01-01T05:00:00Z"))

    assert iso(fires(trigger, at("2024-01-01T03:30:00Z"), 5)) == [
        "2024-01-01T04:00:00+00:00",
        "2024-01-01T05:00:00+00:00",
    ]


def test_bounds_in_a_repeated_hour_are_compared_in_real_time() -> None:
    # Found by the property tests: start_at 01:30 EST (second pass) let 01:45 EDT through,
    # and end_at 01:50 EDT let 01:00 EST through.
    every_15 = CronTrigger("*/15 * * * *", NY)
    start_at = datetime(2024, 11, 3, 1, 30, fold=1, tzinfo=NY)
    end_at = datetime(2024, 11, 3, 1, 50, tzinfo=NY)

    starting = BoundedTrigger(every_15, start_at=start_at)
    ending = BoundedTrigger(every_15, end_at=end_at)

    first = starting.next_after(datetime(2024, 11, 3, 1, 40, tzinfo=NY))
    assert first is not None
    assert first.isoformat() == "2024-11-03T01:30:00-05:00"
    assert iso(fires(ending, datetime(2024, 11, 3, 1, 20, tzinfo=NY), 5)) == [
        "2024-11-03T01:30:00-04:00",
        "2024-11-03T01:45:00-04:00",
    ]


# -- jitter --------------------------------------------------------------------------------


def test_jitter_is_the_same_for_the_same_schedule_and_fire() -> None:
    nominal = at("2024-01-01T03:00:00Z")

    first = jitter_offset("nightly", nominal, timedelta(minutes=5))

    assert first == jitter_offset("nightly", nominal, timedelta(minutes=5))
    assert first == jitter_offset("nightly", nominal.astimezone(BERLIN), timedelta(minutes=5))
    assert timedelta(0) <= first <= timedelta(minutes=5)
    assert jittered("nightly", nominal, timedelta(minutes=5)) == nominal + first


def test_jitter_spreads_schedules_and_fires() -> None:
    nominal = at("2024-01-01T03:00:00Z")
    window = timedelta(minutes=10)

    by_schedule = {jitter_offset(f"s{i}", nominal, window) for i in range(50)}
    by_fire = {jitter_offset("s", nominal + timedelta(days=i), window) for i in range(50)}

    assert len(by_schedule) > 40
    assert len(by_fire) > 40


def test_zero_jitter_is_no_offset() -> None:
    assert jitter_offset("s", at("2024-01-01T00:00:00Z"), timedelta(0)) == timedelta(0)


def test_jitter_in_a_repeated_hour_moves_the_due_time_by_the_offset_in_real_time() -> None:
    # Found by the property tests: adding the offset to a ZoneInfo datetime was wall-time
    # arithmetic (fold dropped), moving a second-pass fire an hour early.
    nominal = datetime(2024, 10, 27, 2, 0, fold=1, tzinfo=BERLIN)  # 01:00Z
    offset = jitter_offset("s", nominal, timedelta(minutes=5))

    due = jittered("s", nominal, timedelta(minutes=5))

    assert due.astimezone(UTC) == at("2024-10-27T01:00:00Z") + offset
    assert due.utcoffset() == timedelta(hours=1)
