"""Plain-English descriptions of triggers, true to tickwork's semantics (not a paraphrase of
the text): the DOM/DOW rule says "or" when both day fields are restricted and "only on" when
one of them starts with ``*``."""

from __future__ import annotations

import calendar
from collections.abc import Iterable

from tickwork.durations import format_duration
from tickwork.triggers.base import Trigger
from tickwork.triggers.bounds import BoundedTrigger
from tickwork.triggers.cron import CronTrigger
from tickwork.triggers.cronexpr import CronExpr
from tickwork.triggers.interval import IntervalTrigger
from tickwork.triggers.once import OnceTrigger

__all__ = ["describe", "describe_cron"]

_DAY_NAMES = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
_ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth"}


def describe(trigger: Trigger) -> str:
    if isinstance(trigger, BoundedTrigger):
        text = describe(trigger.inner)
        if trigger.start_at is not None:
            text += f", from {trigger.start_at.isoformat()}"
        if trigger.end_at is not None:
            text += f", until {trigger.end_at.isoformat()}"
        return text
    if isinstance(trigger, CronTrigger):
        return describe_cron(trigger.expr)
    if isinstance(trigger, IntervalTrigger):
        return f"Every {format_duration(trigger.every)} from {trigger.anchor.isoformat()}"
    if isinstance(trigger, OnceTrigger):
        return f"Once, at {trigger.at.isoformat()}"
    return repr(trigger)


def describe_cron(expr: CronExpr) -> str:
    return f"{_time_part(expr)}{_day_part(expr)}{_month_part(expr)}"


def _spans(values: Iterable[int], name: object = str) -> str:
    ordered = sorted(values)
    groups: list[list[int]] = []
    for value in ordered:
        if groups and value == groups[-1][-1] + 1:
            groups[-1].append(value)
        else:
            groups.append([value])
    render = name if callable(name) else str
    parts = [
        render(g[0])
        if len(g) == 1
        else f"{render(g[0])} and {render(g[1])}"
        if len(g) == 2
        else f"{render(g[0])} through {render(g[-1])}"
        for g in groups
    ]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _step(values: tuple[int, ...], lo: int, hi: int) -> int | None:
    """The step n when ``values`` is exactly lo, lo+n, ... up to hi (a '*/n' field)."""
    if len(values) < 2 or values[0] != lo:
        return None
    step = values[1] - values[0]
    return step if values == tuple(range(lo, hi + 1, step)) else None


def _unit(values: tuple[int, ...], lo: int, hi: int, unit: str) -> str | None:
    if values == tuple(range(lo, hi + 1)):
        return f"every {unit}"
    step = _step(values, lo, hi)
    if step is not None and step > 1:
        return f"every {step} {unit}s"
    return None


def _time_part(expr: CronExpr) -> str:
    seconds, minutes, hours = expr.seconds, expr.minutes, expr.hours
    if len(seconds) == 1 and len(minutes) * len(hours) <= 4:
        times = [
            f"{h:02d}:{m:02d}" + (f":{seconds[0]:02d}" if seconds[0] else "")
            for h in hours
            for m in minutes
        ]
        return "At " + _join(times)
    parts = []
    second_text = _unit(seconds, 0, 59, "second")
    if second_text:
        parts.append(second_text)
    elif seconds != (0,):
        parts.append(f"at second {_spans(seconds)}")
    minute_text = _unit(minutes, 0, 59, "minute")
    if minute_text and not (second_text and minute_text == "every minute"):
        parts.append(minute_text)
    elif not minute_text:
        parts.append(
            f"at minute {_spans(minutes)}"
            if parts or len(minutes) > 1
            else f"at minute {minutes[0]}"
        )
    hour_text = _unit(hours, 0, 23, "hour")
    if hour_text and hour_text != "every hour":
        parts.append(hour_text)
    elif not hour_text:
        parts.append(
            f"during hour {_spans(hours)}" if len(hours) == 1 else f"during hours {_spans(hours)}"
        )
    text = ", ".join(parts)
    return text[0].upper() + text[1:]


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _dom_text(expr: CronExpr) -> str:
    parts = []
    if expr.days and expr.days != frozenset(range(1, 32)):
        days = tuple(sorted(expr.days))
        step = _step(days, 1, 31)
        parts.append(
            f"every {step} days from the 1st"
            if step and step > 1
            else f"day {_spans(days)} of the month"
        )
    if expr.last_day:
        parts.append("the last day of the month")
    if expr.last_weekday:
        parts.append("the last weekday of the month")
    if expr.nearest_weekday is not None:
        parts.append(f"the weekday nearest day {expr.nearest_weekday}")
    return _join(parts) if parts else "every day"


def _dow_text(expr: CronExpr) -> str:
    parts = []
    if expr.weekdays:
        parts.append(_spans(expr.weekdays, lambda d: _DAY_NAMES[d]))
    for weekday in sorted(expr.last_of_weekday):
        parts.append(f"the last {_DAY_NAMES[weekday]} of the month")
    for weekday, k in sorted(expr.nth_weekday):
        parts.append(f"the {_ORDINALS[k]} {_DAY_NAMES[weekday]} of the month")
    return _join(parts)


def _day_part(expr: CronExpr) -> str:
    dom_all = expr.dom_star and expr.days == frozenset(range(1, 32))
    dow_all = expr.dow_star and expr.weekdays == frozenset(range(7))
    if dom_all and dow_all:
        return ", every day"
    if dow_all or (expr.dow_star and not dom_all):
        # DOW starts with '*' but is restricted (e.g. '*/2'): both must match.
        suffix = "" if dow_all else f", only if it is {_dow_text(expr)}"
        return f", on {_dom_text(expr)}{suffix}"
    if dom_all:
        return f", on {_dow_text(expr)}"
    if expr.dom_star:
        return f", on {_dow_text(expr)}, only on {_dom_text(expr)}"
    # Both restricted: either matching fires (Vixie/cronie rule).
    return f", on {_dom_text(expr)} or on {_dow_text(expr)}"


def _month_part(expr: CronExpr) -> str:
    if expr.months == frozenset(range(1, 13)):
        return ""
    return f", in {_spans(expr.months, lambda m: calendar.month_name[m])}"
