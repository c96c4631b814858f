"""Invariants of bounds, jitter, interval and one-off triggers and the idempotency key.

Instants are drawn in UTC, in fixed offsets and in DST zones on purpose: Python compares and
subtracts two datetimes that share a ``ZoneInfo`` as wall times (ignoring ``fold``), and a
trigger must stay correct in real time whatever zone its inputs are written in.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from tickwork.model import idempotency_key
from tickwork.triggers import (
    BoundedTrigger,
    CronTrigger,
    IntervalTrigger,
    OnceTrigger,
    Trigger,
    jitter_offset,
    jittered,
)

SETTINGS = settings(deadline=None, max_examples=200)
ZONES: list[tzinfo] = [
    UTC,
    timezone(timedelta(hours=5, minutes=30)),
    timezone(timedelta(hours=-3)),
    ZoneInfo("Europe/Berlin"),
    ZoneInfo("America/New_York"),
    ZoneInfo("Australia/Lord_Howe"),
]
FIRST = datetime(1990, 1, 1, tzinfo=UTC)
LAST = datetime(2040, 12, 31, tzinfo=UTC)
CRONS = ["*/15 * * * *", "30 1 * * *", "0 2 * * *", "0 * * * *", "0 0 1 * *", "*/10 * * * * *"]


def real(instant: datetime) -> datetime:
    """The instant in UTC: its position on the real timeline, whatever zone it is written in.

    Needed because datetimes sharing a ZoneInfo compare as wall times, and == across zones
    is always False for a wall time inside a repeated hour (PEP 495)."""
    result: datetime = instant.astimezone(UTC)
    return result


@st.composite
def instants(draw: Any, lo: datetime = FIRST, hi: datetime = LAST) -> datetime:
    """An instant in [lo, hi], often inside a fall-back hour, written in a random zone."""
    zone = draw(st.sampled_from(ZONES))
    if draw(st.integers(0, 2)) == 0:
        # Second passes of repeated hours, where fold matters (NY 2024, Berlin 2024).
        base = draw(
            st.sampled_from(
                [
                    datetime(2024, 11, 3, 5, 0, tzinfo=UTC),
                    datetime(2024, 10, 27, 0, 0, tzinfo=UTC),
                    datetime(2024, 3, 10, 6, 0, tzinfo=UTC),
                ]
            )
        )
        moment = base + timedelta(seconds=draw(st.integers(0, 3 * 3600)))
        moment = min(max(moment, lo), hi)
    else:
        span = int((hi - lo).total_seconds())
        moment = lo + timedelta(seconds=draw(st.integers(0, span)))
    micro = draw(st.one_of(st.just(0), st.integers(0, 999_999)))
    moment = min(moment + timedelta(microseconds=micro), hi)
    return moment.astimezone(zone)


@st.composite
def inner_triggers(draw: Any) -> Trigger:
    kind = draw(st.sampled_from(["cron", "interval", "once"]))
    if kind == "cron":
        return CronTrigger(draw(st.sampled_from(CRONS)), draw(st.sampled_from(ZONES)))
    if kind == "interval":
        every = timedelta(seconds=draw(st.integers(1, 3 * 86400)))
        return IntervalTrigger(every, draw(instants()))
    return OnceTrigger(draw(instants()))


def _fires(trigger: Trigger, after: datetime, count: int) -> list[datetime]:
    found = []
    current: datetime | None = after
    for _ in range(count):
        assert current is not None
        current = trigger.next_after(current)
        if current is None:
            break
        found.append(current)
    return found


# -- bounds ------------------------------------------------------------------------------


@SETTINGS
@given(inner_triggers(), instants(), instants(), st.data())
def test_bounded_trigger_fires_nothing_before_start_at_nor_after_end_at(
    inner: Trigger, start_at: datetime, after: datetime, data: st.DataObject
) -> None:
    length = timedelta(seconds=data.draw(st.integers(0, 10 * 86400)))
    end_at = (start_at.astimezone(UTC) + length).astimezone(data.draw(st.sampled_from(ZONES)))
    trigger = BoundedTrigger(inner, start_at, end_at)

    fires = _fires(trigger, after, 20)

    for fire in fires:
        assert real(start_at) <= real(fire) <= real(end_at), (fire, start_at, end_at)
        assert real(fire) > real(after)
    assert all(real(a) < real(b) for a, b in pairwise(fires))
    # The bounds only cut: inside them the inner trigger's fires are kept, none dropped.
    expected = [
        f
        for f in _fires(inner, max(real(after), real(start_at) - timedelta(microseconds=1)), 20)
        if real(f) <= real(end_at)
    ]
    assert [real(f) for f in fires] == [real(f) for f in expected]


# -- jitter ------------------------------------------------------------------------------


@SETTINGS
@given(
    st.text(min_size=1, max_size=30),
    instants(),
    st.integers(0, 7 * 86400 * 10**6).map(lambda us: timedelta(microseconds=us)),
    st.sampled_from(ZONES),
)
def test_jitter_is_deterministic_within_bounds_and_never_moves_the_nominal_time(
    seed: str, nominal: datetime, jitter: timedelta, zone: tzinfo
) -> None:
    before = nominal.isoformat()
    key = idempotency_key(seed, nominal)

    due = jittered(seed, nominal, jitter)
    offset = jitter_offset(seed, nominal, jitter)

    assert timedelta(0) <= offset <= jitter
    assert due.astimezone(UTC) - nominal.astimezone(UTC) == offset, "jitter in real time"
    assert jittered(seed, nominal, jitter) == due, "deterministic"
    # The same instant written in another zone gets the same offset: it is the same fire.
    assert jitter_offset(seed, nominal.astimezone(zone), jitter) == offset
    # The nominal time, and so the idempotency key, is untouched.
    assert nominal.isoformat() == before
    assert idempotency_key(seed, nominal) == key


# -- interval ----------------------------------------------------------------------------


@SETTINGS
@given(
    instants(),
    st.integers(1, 400 * 86400 * 1000).map(lambda ms: timedelta(milliseconds=ms)),
    st.integers(0, 10_000),
    st.sampled_from(ZONES),
)
def test_interval_fire_n_is_exactly_anchor_plus_n_times_every(
    anchor: datetime, every: timedelta, n: int, zone: tzinfo
) -> None:
    trigger = IntervalTrigger(every, anchor)
    try:
        nominal = anchor.astimezone(UTC) + n * every  # real-time arithmetic, exact in µs
    except OverflowError:  # past year 9999: no instant to check
        return
    if nominal.year > 9000:
        return

    just_before = (nominal - timedelta(microseconds=1)).astimezone(zone)
    at = trigger.next_after(just_before)
    following = trigger.next_after(nominal.astimezone(zone))

    assert at is not None
    assert following is not None
    assert at.astimezone(UTC) == nominal
    assert following.astimezone(UTC) == nominal + every


@SETTINGS
@given(instants(), st.integers(1, 86400).map(lambda s: timedelta(seconds=s)), instants())
def test_interval_fires_are_evenly_spaced_in_real_time_and_strictly_after(
    anchor: datetime, every: timedelta, after: datetime
) -> None:
    fires = _fires(IntervalTrigger(every, anchor), after, 30)

    assert len(fires) == 30
    assert real(fires[0]) > real(after)
    assert fires[0].astimezone(UTC) == max(
        anchor.astimezone(UTC),
        anchor.astimezone(UTC)
        + ((after.astimezone(UTC) - anchor.astimezone(UTC)) // every + 1) * every,
    )
    for a, b in pairwise(fires):
        assert b.astimezone(UTC) - a.astimezone(UTC) == every


# -- one-off -----------------------------------------------------------------------------


@SETTINGS
@given(instants(), instants())
def test_once_trigger_fires_exactly_once_strictly_after(at: datetime, after: datetime) -> None:
    fires = _fires(OnceTrigger(at), after, 3)

    assert [real(f) for f in fires] == ([real(at)] if real(at) > real(after) else [])


# -- idempotency key ---------------------------------------------------------------------


@SETTINGS
@given(st.text(min_size=1, max_size=40), instants(), st.sampled_from(ZONES))
def test_idempotency_key_is_stable_for_one_fire_whatever_its_zone(
    schedule: str, nominal: datetime, zone: tzinfo
) -> None:
    key = idempotency_key(schedule, nominal)

    assert key == idempotency_key(schedule, nominal.astimezone(zone))
    assert key == idempotency_key(schedule, nominal)
    name, _, instant = key.rpartition("@")
    assert name == schedule
    assert real(datetime.fromisoformat(instant)) == real(nominal)
    assert datetime.fromisoformat(instant).utcoffset() == timedelta(0)


@SETTINGS
@given(st.text(min_size=1, max_size=40), instants(), instants())
def test_idempotency_keys_of_different_fires_differ(
    schedule: str, first: datetime, second: datetime
) -> None:
    same = real(first) == real(second)

    assert (idempotency_key(schedule, first) == idempotency_key(schedule, second)) is same
