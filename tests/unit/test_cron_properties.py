"""Property tests of ``CronTrigger`` against an independent brute-force oracle.

Expressions are drawn from a grammar (values, ranges, steps, lists, names, ``?``, macros,
``L``/``LW``/``nW``/``nL``/``n#k``, 5 and 6 fields). The grammar builds each expression's
meaning alongside its text, so the oracle never uses tickwork's parser. The oracle is
"oracle B" of CRON_SEMANTICS.md 6: walk the real UTC timeline minute by minute (second by
second for 6 fields), convert each instant to wall time, fire on matches — fixed-time jobs
only on ``fold == 0`` occurrences plus the gap-end rule at each forward transition,
wildcard jobs at every occurrence (CRON_SEMANTICS.md 3.1).
"""

from __future__ import annotations

import calendar
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tickwork.errors import InvalidSpecError
from tickwork.triggers import CronTrigger

ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Pacific/Chatham",
]
FIRST_INSTANT = int(datetime(1990, 1, 1, tzinfo=UTC).timestamp())
LAST_INSTANT = int(datetime(2041, 1, 1, tzinfo=UTC).timestamp()) - 1
# Window the brute-force walk covers: two days minute by minute, two hours second by second.
SPAN_MINUTES = 2 * 86400
SPAN_SECONDS = 2 * 3600

PROPERTY_SETTINGS = settings(
    deadline=None,
    max_examples=150,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

MONTH_NAMES = ["", *(calendar.month_abbr[i].upper() for i in range(1, 13))]
DAY_NAMES = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]


# -- the meaning of an expression, built independently of tickwork's parser --------------


@dataclass(frozen=True)
class CronModel:
    """What an expression means, per CRON_SEMANTICS.md 1-3. Weekdays: 0 = Sunday."""

    text: str
    six: bool
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    months: frozenset[int]
    dom_days: frozenset[int]
    dom_last: bool = False
    dom_last_weekday: bool = False
    dom_nearest: int | None = None
    dow_days: frozenset[int] = frozenset()
    dow_last: frozenset[int] = frozenset()
    dow_nth: frozenset[tuple[int, int]] = frozenset()
    dom_star: bool = True
    dow_star: bool = True
    wildcard: bool = False
    _day_cache: dict[date, bool] = field(default_factory=dict, compare=False, repr=False)

    def day_matches(self, day: date) -> bool:
        cached = self._day_cache.get(day)
        if cached is None:
            cached = self._day_cache[day] = _day_matches(self, day)
        return cached

    def wall_matches(self, wall: datetime) -> bool:
        return (
            wall.second in self.seconds
            and wall.minute in self.minutes
            and wall.hour in self.hours
            and self.day_matches(wall.date())
        )


def _day_matches(model: CronModel, day: date) -> bool:
    if day.month not in model.months:
        return False
    length = calendar.monthrange(day.year, day.month)[1]
    weekday = (day.weekday() + 1) % 7  # Python: Monday 0; cron: Sunday 0
    in_dom = (
        day.day in model.dom_days
        or (model.dom_last and day.day == length)
        or (model.dom_last_weekday and day.day == _last_weekday(day.year, day.month))
        or (
            model.dom_nearest is not None
            and day.day == _nearest_weekday(day.year, day.month, model.dom_nearest)
        )
    )
    in_dow = (
        weekday in model.dow_days
        or (weekday in model.dow_last and day.day + 7 > length)
        or (weekday, (day.day - 1) // 7 + 1) in model.dow_nth
    )
    # CRON_SEMANTICS.md 2: AND when either field starts with '*' (or is '?'), else OR.
    return (in_dom and in_dow) if model.dom_star or model.dow_star else (in_dom or in_dow)


def _last_weekday(year: int, month: int) -> int:
    day = date(year, month, calendar.monthrange(year, month)[1])
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day.day


def _nearest_weekday(year: int, month: int, n: int) -> int | None:
    length = calendar.monthrange(year, month)[1]
    if n > length:
        return None  # '31W' in a 30-day month does not fire
    weekday = date(year, month, n).weekday()
    if weekday == 5:  # Saturday: the Friday before, unless that leaves the month
        return n - 1 if n > 1 else n + 2
    if weekday == 6:  # Sunday: the Monday after, unless that leaves the month
        return n + 1 if n < length else n - 2
    return n


# -- oracle B ------------------------------------------------------------------------------


def _floor_seconds(instant: datetime) -> int:
    return (instant - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(seconds=1)


def oracle_fires(model: CronModel, tz: tzinfo, after: datetime, until: datetime) -> list[int]:
    """Fire instants (POSIX seconds) in (after, until], by walking the UTC timeline."""
    step = 1 if model.six else 60
    first = _floor_seconds(after) + 1
    instant = -(-first // step) * step
    end = _floor_seconds(until)
    previous = datetime.fromtimestamp(instant - step, tz)
    found = []
    while instant <= end:
        current = datetime.fromtimestamp(instant, tz)
        wall = current.replace(tzinfo=None)
        fire = model.wall_matches(wall) and (model.wildcard or current.fold == 0)
        offset_now, offset_before = current.utcoffset(), previous.utcoffset()
        assert offset_now is not None
        assert offset_before is not None
        if not fire and not model.wildcard and offset_now > offset_before:
            # Forward transition at `instant`: the wall slots it skipped run here, once.
            slot = previous.replace(tzinfo=None) + timedelta(seconds=step)
            while slot < wall and not fire:
                fire = model.wall_matches(slot)
                slot += timedelta(seconds=step)
        if fire:
            found.append(instant)
        previous = current
        instant += step
    return found


def trigger_fires(trigger: CronTrigger, after: datetime, until: datetime) -> list[datetime]:
    found: list[datetime] = []
    current = after
    while (fire := trigger.next_after(current)) is not None and fire <= until:
        assert fire.timestamp() > current.timestamp(), f"{fire} is not after {current}"
        found.append(fire)
        current = fire
    return found


# -- the grammar ---------------------------------------------------------------------------

Field = tuple[str, frozenset[int]]


def _render(draw: Any, value: int, names: list[str] | None) -> str:
    if names is not None and value < len(names) and names[value] and draw(st.booleans()):
        name = names[value]
        return str(draw(st.sampled_from([name, name.lower(), name.title()])))
    return f"{value:02d}" if draw(st.integers(0, 4)) == 0 else str(value)


@st.composite
def plain_item(
    draw: Any,
    lo: int,
    hi: int,
    values: st.SearchStrategy[int],
    names: list[str] | None = None,
    dow: bool = False,
) -> Field:
    """``*``, ``*/s``, ``v``, ``v/s``, ``a-b``, ``a-b/s`` with the values each one means."""
    kind = draw(st.sampled_from(["star", "star_step", "value", "value", "range", "value_step"]))
    step = draw(st.one_of(st.integers(1, 7), st.sampled_from([10, 12, 15, 20, 30, 45, 100])))
    if kind == "star":
        text, chosen = "*", set(range(lo, hi + 1))
    elif kind == "star_step":
        text, chosen = f"*/{step}", set(range(lo, hi + 1, step))
    elif kind == "value":
        value = draw(values)
        # 7 (Sunday) is written as a number: SUN reads as 0, which changes ranges and steps.
        text, chosen = _render(draw, value, names if value < 7 else None), {value}
    elif kind == "value_step":
        value = draw(values)
        # 'v/step' means 'v-max/step'; in day-of-week max is 7 (tickwork's decision).
        text = f"{_render(draw, value, names if value < 7 else None)}/{step}"
        chosen = set(range(value, hi + 1, step))
    else:
        a, b = sorted((draw(values), draw(values)))
        low = _render(draw, a, names if a < 7 else None)
        if dow and b == 7 and a > 0:
            # CRON_SEMANTICS.md 1 (cronie get_range): 'FRI-SUN' and 'FRI-0' mean 5-7.
            high = str(draw(st.sampled_from(["7", "0", "SUN", "sun"])))
        else:
            high = _render(draw, b, names if b < 7 else None)
        chosen = set(range(a, b + 1))
        text = f"{low}-{high}"
        if draw(st.booleans()):
            text += f"/{step}"
            chosen = set(range(a, b + 1, step))
    if dow:
        chosen = {v % 7 for v in chosen}  # 0 and 7 are both Sunday
    return text, frozenset(chosen)


@st.composite
def plain_field(
    draw: Any,
    lo: int,
    hi: int,
    values: st.SearchStrategy[int],
    names: list[str] | None = None,
    dow: bool = False,
    max_items: int = 3,
) -> Field:
    items = draw(st.lists(plain_item(lo, hi, values, names, dow), min_size=1, max_size=max_items))
    return ",".join(t for t, _ in items), frozenset().union(*(v for _, v in items))


def _often(common: st.SearchStrategy[int], lo: int, hi: int) -> st.SearchStrategy[int]:
    return st.one_of(common, st.integers(lo, hi))


SECOND_VALUES = _often(st.sampled_from([0, 0, 30, 59]), 0, 59)
MINUTE_VALUES = _often(st.sampled_from([0, 15, 30, 45, 59]), 0, 59)
# Hours near the DST transitions of the zones under test (00:00, 02:00, 02:45, 03:00 local).
HOUR_VALUES = _often(st.integers(0, 3), 0, 23)


@st.composite
def time_field(draw: Any, values: st.SearchStrategy[int], hi: int, zero: bool = False) -> Field:
    if zero and draw(st.integers(0, 2)) == 0:
        return "0", frozenset({0})
    return draw(plain_field(0, hi, values))  # type: ignore[no-any-return]


@st.composite
def month_field(draw: Any) -> Field:
    if draw(st.integers(0, 3)):
        return "*", frozenset(range(1, 13))
    return draw(plain_field(1, 12, st.integers(1, 12), MONTH_NAMES))  # type: ignore[no-any-return]


@dataclass(frozen=True)
class DomField:
    text: str
    days: frozenset[int]
    last: bool = False
    last_weekday: bool = False
    nearest: int | None = None


@st.composite
def dom_field(draw: Any) -> DomField:
    kind = draw(st.sampled_from(["star"] * 5 + ["question", "plain", "plain", "L", "LW", "W"]))
    if kind in ("star", "question"):
        return DomField("*" if kind == "star" else "?", frozenset(range(1, 32)))
    if kind == "LW":
        return DomField("LW", frozenset(), last_weekday=True)
    if kind == "W":
        n = draw(st.one_of(st.sampled_from([1, 15, 28, 29, 30, 31]), st.integers(1, 31)))
        return DomField(f"{n}W", frozenset(), nearest=n)
    days: frozenset[int] = frozenset()
    text = ""
    if kind == "plain" or draw(st.booleans()):
        text, days = draw(
            plain_field(1, 31, _often(st.sampled_from([1, 28, 29, 30, 31]), 1, 31), max_items=2)
        )
    if kind == "L":
        text = f"{text},L" if text and draw(st.booleans()) else (f"L,{text}" if text else "L")
    return DomField(text, days, last=kind == "L")


@dataclass(frozen=True)
class DowField:
    text: str
    days: frozenset[int]
    last: frozenset[int] = frozenset()
    nth: frozenset[tuple[int, int]] = frozenset()


@st.composite
def dow_item(draw: Any) -> DowField:
    kind = draw(st.sampled_from(["plain", "plain", "nL", "hash"]))
    if kind == "plain":
        weekdays = _often(st.sampled_from([0, 1, 5, 7]), 0, 7)  # Sunday as 0 and as 7
        text, days = draw(plain_item(0, 7, weekdays, DAY_NAMES, dow=True))
        return DowField(text, days)
    weekday = draw(st.integers(0, 7))
    if kind == "nL":  # digits only before L
        return DowField(f"{weekday}L", frozenset(), last=frozenset({weekday % 7}))
    k = draw(st.integers(1, 5))
    name = _render(draw, weekday, DAY_NAMES if weekday < 7 else None)
    return DowField(f"{name}#{k}", frozenset(), nth=frozenset({(weekday % 7, k)}))


@st.composite
def dow_field(draw: Any) -> DowField:
    kind = draw(st.sampled_from(["star"] * 5 + ["question", "list", "list", "list"]))
    if kind in ("star", "question"):
        return DowField("*" if kind == "star" else "?", frozenset(range(7)))
    items = draw(st.lists(dow_item(), min_size=1, max_size=3))
    return DowField(
        ",".join(i.text for i in items),
        frozenset().union(*(i.days for i in items)),
        frozenset().union(*(i.last for i in items)),
        frozenset().union(*(i.nth for i in items)),
    )


MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


def _assemble(
    text: str,
    second: Field | None,
    minute: Field,
    hour: Field,
    dom: DomField,
    month: Field,
    dow: DowField,
) -> CronModel:
    time_texts = [minute[0], hour[0]] + ([second[0]] if second else [])
    return CronModel(
        text=text,
        six=second is not None,
        seconds=second[1] if second else frozenset({0}),
        minutes=minute[1],
        hours=hour[1],
        months=month[1],
        dom_days=dom.days,
        dom_last=dom.last,
        dom_last_weekday=dom.last_weekday,
        dom_nearest=dom.nearest,
        dow_days=dow.days,
        dow_last=dow.last,
        dow_nth=dow.nth,
        dom_star=dom.text.startswith(("*", "?")),
        dow_star=dow.text.startswith(("*", "?")),
        # CRON_SEMANTICS.md 3.1: the seconds, minute or hour field starts with '*'.
        wildcard=any(t.startswith("*") for t in time_texts),
    )


def _macro_model(macro: str) -> CronModel:
    minute, hour, dom, month, dow = MACROS[macro].split()
    weekdays = frozenset(range(7)) if dow == "*" else frozenset({int(dow)})
    return _assemble(
        macro,
        None,
        (minute, frozenset({0})),
        (hour, frozenset(range(24)) if hour == "*" else frozenset({0})),
        DomField(dom, frozenset(range(1, 32)) if dom == "*" else frozenset({1})),
        (month, frozenset(range(1, 13)) if month == "*" else frozenset({1})),
        DowField(dow, weekdays),
    )


@st.composite
def cron_models(
    draw: Any,
    six: bool | None = None,
    hours: st.SearchStrategy[int] = HOUR_VALUES,
    every_day: bool = False,
) -> CronModel:
    """An expression and its meaning; ``every_day`` makes ``* * *`` days likely."""
    if six is None and draw(st.integers(0, 9)) == 0:
        return _macro_model(draw(st.sampled_from(sorted(MACROS))))
    with_seconds = draw(st.booleans()) if six is None else six
    second = draw(time_field(SECOND_VALUES, 59, zero=True)) if with_seconds else None
    minute = draw(time_field(MINUTE_VALUES, 59, zero=True))
    hour = draw(time_field(hours, 23))
    if every_day and draw(st.integers(0, 3)):
        dom, month, dow = (
            DomField("*", frozenset(range(1, 32))),
            ("*", frozenset(range(1, 13))),
            DowField("*", frozenset(range(7))),
        )
    else:
        dom, month, dow = draw(dom_field()), draw(month_field()), draw(dow_field())
    fields = [minute[0], hour[0], dom.text, month[0], dow.text]
    if second is not None:
        fields.insert(0, second[0])
    gaps = len(fields) - 1
    separators = draw(
        st.lists(st.sampled_from([" ", " ", "  ", "\t"]), min_size=gaps, max_size=gaps)
    )
    text = fields[0] + "".join(s + f for s, f in zip(separators, fields[1:], strict=True))
    if draw(st.integers(0, 9)) == 0:
        text = f" {text} "
    return _assemble(text, second, minute, hour, dom, month, dow)


# -- instants --------------------------------------------------------------------------


@cache
def transitions(zone: str) -> tuple[int, ...]:
    """Instants (POSIX seconds) at which ``zone``'s UTC offset changes, 1990-2040."""
    tz = ZoneInfo(zone)

    def offset(t: int) -> timedelta | None:
        return datetime.fromtimestamp(t, tz).utcoffset()

    found = []
    step = 12 * 3600  # transitions of one zone are days apart
    lo = FIRST_INSTANT
    while lo < LAST_INSTANT:
        hi = lo + step
        if offset(lo) != offset(hi):
            a, b = lo, hi
            while b - a > 1:
                mid = (a + b) // 2
                a, b = (mid, b) if offset(mid) == offset(a) else (a, mid)
            found.append(b)
        lo = hi
    return tuple(found)


@st.composite
def after_instants(draw: Any, zone: str, span: int, near: int | None = None) -> datetime:
    """An instant in 1990-2040, often in the ``span`` before a DST transition of ``zone``
    (always before ``near`` when given), with or without microseconds, written in UTC, in
    the zone or in a foreign offset."""
    moments = transitions(zone)
    if near is not None:
        seconds = near - draw(st.integers(0, span))
    elif moments and draw(st.booleans()):
        seconds = draw(st.sampled_from(moments)) - draw(st.integers(0, span))
    else:
        seconds = FIRST_INSTANT + draw(st.integers(0, LAST_INSTANT - FIRST_INSTANT))
    micro = draw(st.one_of(st.just(0), st.integers(0, 999_999)))
    instant = datetime.fromtimestamp(seconds, UTC).replace(microsecond=micro)
    written_in = draw(st.sampled_from(["utc", "zone", "foreign"]))
    if written_in == "zone":
        return instant.astimezone(ZoneInfo(zone))
    if written_in == "foreign":
        return instant.astimezone(timezone(timedelta(hours=-3, minutes=-30)))
    return instant


@dataclass(frozen=True)
class Scenario:
    model: CronModel
    zone: str
    after: datetime

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.zone)


@st.composite
def scenarios(draw: Any, six: bool | None = None) -> Scenario:
    model = draw(cron_models(six))
    zone = draw(st.sampled_from(ZONES))
    span = SPAN_SECONDS if model.six else SPAN_MINUTES
    return Scenario(model, zone, draw(after_instants(zone, span)))


@st.composite
def dst_scenarios(draw: Any, six: bool | None = None) -> Scenario:
    """A window holding a DST transition, and an expression whose hours are likely to be
    the local hours around it, so gap and repeat rules are exercised on most examples."""
    zone = draw(st.sampled_from([z for z in ZONES if transitions(z)]))
    moment = draw(st.sampled_from(transitions(zone)))
    tz = ZoneInfo(zone)
    around = sorted({datetime.fromtimestamp(moment + d, tz).hour for d in (-3600, -1, 0)})
    model = draw(cron_models(six, hours=_often(st.sampled_from(around), 0, 23), every_day=True))
    span = SPAN_SECONDS if model.six else SPAN_MINUTES
    return Scenario(model, zone, draw(after_instants(zone, span, near=moment)))


def _trigger_or_never_fires(model: CronModel, tz: tzinfo) -> CronTrigger | None:
    """The trigger; None when it is rightly rejected because no calendar day ever matches."""
    try:
        return CronTrigger(model.text, tz)
    except InvalidSpecError as err:
        rejection = str(err)
    assert "never fires" in rejection, f"{model.text!r} rejected: {rejection}"
    assert not any(
        model.day_matches(date(year, month, day))
        for year in range(2000, 2400)
        for month in sorted(model.months)
        for day in range(1, calendar.monthrange(year, month)[1] + 1)
    ), f"{model.text!r} matches some day, yet was rejected as never firing"
    return None


def _is_gap_fire(model: CronModel, tz: tzinfo, fire: datetime) -> bool:
    """``fire`` is the first instant after a forward transition whose skipped wall slots
    include a matching one (CRON_SEMANTICS.md 3.1, fixed-time jobs)."""
    step = 1 if model.six else 60
    t = _floor_seconds(fire)
    before, now = datetime.fromtimestamp(t - step, tz), datetime.fromtimestamp(t, tz)
    offset_before, offset_now = before.utcoffset(), now.utcoffset()
    assert offset_before is not None
    assert offset_now is not None
    if offset_now <= offset_before:
        return False
    slot, end = before.replace(tzinfo=None) + timedelta(seconds=step), now.replace(tzinfo=None)
    while slot < end:
        if model.wall_matches(slot):
            return True
        slot += timedelta(seconds=step)
    return False


def _days_between(first: datetime, last: datetime, tz: tzinfo) -> Iterator[date]:
    day = first.astimezone(tz).date() + timedelta(days=2)
    stop = last.astimezone(tz).date() - timedelta(days=1)
    while day < stop:
        yield day
        day += timedelta(days=1)


def _has_transition(tz: tzinfo, day: date) -> bool:
    start = datetime(day.year, day.month, day.day, tzinfo=tz)
    return start.utcoffset() != (start + timedelta(days=1)).utcoffset()


# -- the properties ------------------------------------------------------------------------


def _check_window(case: Scenario) -> None:
    trigger = _trigger_or_never_fires(case.model, case.tz)
    if trigger is None:
        return
    span = timedelta(seconds=SPAN_SECONDS if case.model.six else SPAN_MINUTES)
    until = case.after.astimezone(UTC) + span  # in UTC: real time, compared across zones

    got = trigger_fires(trigger, case.after, until)

    expected = oracle_fires(case.model, case.tz, case.after, until)
    assert [_floor_seconds(f) for f in got] == expected, (
        f"{case.model.text!r} in {case.zone} after {case.after.isoformat()}: got "
        f"{[f.isoformat() for f in got]}, oracle "
        f"{[datetime.fromtimestamp(t, case.tz).isoformat() for t in expected]}"
    )
    for fire in got:
        assert fire.utcoffset() == fire.astimezone(case.tz).utcoffset()
    # The batch a scheduler pass asks for: the same fires, cut at the limit.
    assert trigger.fires_through(case.after, until, len(got) + 1) == got
    assert (
        trigger.fires_through(case.after, until, max(len(got) // 2, 1))
        == got[: max(len(got) // 2, 1)]
    )


@PROPERTY_SETTINGS
@given(scenarios())
def test_fires_in_a_window_are_exactly_those_of_the_brute_force_oracle(case: Scenario) -> None:
    _check_window(case)


@PROPERTY_SETTINGS
@given(dst_scenarios())
def test_fires_across_a_dst_transition_are_exactly_those_of_the_oracle(case: Scenario) -> None:
    _check_window(case)


@settings(PROPERTY_SETTINGS, max_examples=60)
@given(st.one_of(scenarios(six=True), dst_scenarios(six=True)))
def test_six_field_fires_match_the_oracle_second_by_second(case: Scenario) -> None:
    _check_window(case)


@PROPERTY_SETTINGS
@given(scenarios())
def test_every_fire_matches_the_expression_and_no_matching_day_is_skipped(
    case: Scenario,
) -> None:
    trigger = _trigger_or_never_fires(case.model, case.tz)
    if trigger is None:
        return
    model, tz = case.model, case.tz

    fires = []
    current = case.after
    for _ in range(8):
        fire = trigger.next_after(current)
        assert fire is not None, "a cron expression that fires once fires forever"
        fires.append(fire)
        current = fire

    # Compared as POSIX instants: two datetimes with the same ZoneInfo compare as wall
    # times, ignoring fold, which is wrong inside a repeated hour.
    instants = [f.timestamp() for f in fires]
    assert instants[0] > case.after.timestamp()
    assert all(a < b for a, b in pairwise(instants)), "strictly increasing"
    for fire in fires:
        assert fire.microsecond == 0
        assert fire.utcoffset() == fire.astimezone(tz).utcoffset(), "offset of the zone"
        wall = fire.astimezone(tz)
        if model.wall_matches(wall.replace(tzinfo=None)):
            assert model.wildcard or wall.fold == 0, f"{fire} repeats a fixed-time run"
        else:
            assert not model.wildcard, f"wildcard job fired off its fields at {fire}"
            assert _is_gap_fire(model, tz, fire), f"{fire} matches nothing"
    # Long quiet spells, checked a day at a time: a matching day strictly inside one is
    # only allowed when a wildcard job's slots that day all fell into a DST gap.
    for earlier, later in pairwise([case.after, *fires]):
        for day in _days_between(earlier, later, tz):
            assert not model.day_matches(day) or (model.wildcard and _has_transition(tz, day)), (
                f"{model.text!r} skipped {day} between {earlier} and {later}"
            )


# -- the oracle itself is checked against the shared vectors ------------------------------

_PLAIN = re.compile(r"^[0-9*/,\- ]+$")
_VECTORS = json.loads(
    (Path(__file__).parent.parent / "data" / "cron_vectors.json").read_text(encoding="utf-8")
)


def _plain_model(text: str) -> CronModel:
    """A tiny parser for numeric expressions only, to check the oracle against vectors."""
    parts = text.split()
    second = None
    if len(parts) == 6:
        second = (parts[0], _plain_values(parts[0], 0, 59))
        parts = parts[1:]
    minute, hour, dom, month, dow = parts
    weekdays = frozenset(v % 7 for v in _plain_values(dow, 0, 7))
    return _assemble(
        text,
        second,
        (minute, _plain_values(minute, 0, 59)),
        (hour, _plain_values(hour, 0, 23)),
        DomField(dom, _plain_values(dom, 1, 31)),
        (month, _plain_values(month, 1, 12)),
        DowField(dow, weekdays),
    )


def _plain_values(text: str, lo: int, hi: int) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        base, _, step = item.partition("/")
        if base == "*":
            a, b = lo, hi
        elif "-" in base:
            a, b = (int(x) for x in base.split("-"))
        else:
            a = int(base)
            b = hi if step else a
        values |= set(range(a, b + 1, int(step) if step else 1))
    return frozenset(values)


def _oracle_vectors() -> list[dict[str, Any]]:
    chosen = []
    for vector in _VECTORS:
        if vector.get("expect_error") or not _PLAIN.match(vector["expr"]):
            continue
        span = datetime.fromisoformat(vector["expected"][-1]) - datetime.fromisoformat(
            vector["after"]
        )
        limit = timedelta(hours=3) if len(vector["expr"].split()) == 6 else timedelta(days=4)
        if span <= limit:
            chosen.append(vector)
    return chosen


ORACLE_VECTORS = _oracle_vectors()


def test_the_oracle_is_checked_on_the_dst_vectors() -> None:
    ids = {v["id"] for v in ORACLE_VECTORS}
    assert len(ORACLE_VECTORS) >= 40
    assert {"ny-gap-0230", "berlin-gap-dedupe", "lordhowe-repeat-15min"} <= ids


@pytest.mark.parametrize("vector", ORACLE_VECTORS, ids=[v["id"] for v in ORACLE_VECTORS])
def test_oracle_b_agrees_with_the_vector(vector: dict[str, Any]) -> None:
    model, tz = _plain_model(vector["expr"]), ZoneInfo(vector["tz"])
    after = datetime.fromisoformat(vector["after"])
    expected = [datetime.fromisoformat(e) for e in vector["expected"]]

    found = oracle_fires(model, tz, after, expected[-1])

    assert found == [_floor_seconds(e) for e in expected]


def test_zone_transitions_used_by_the_oracle_fall_on_whole_minutes() -> None:
    # The minute-by-minute walk sees every transition only if they are on whole minutes.
    for zone in ZONES:
        assert all(t % 60 == 0 for t in transitions(zone)), zone
    assert transitions("Asia/Kolkata") == ()
    assert len(transitions("Europe/Berlin")) == 2 * 51
