"""Cron expression parsing: text to a frozen ``CronExpr``.

Pure and strict. Every choice here is pinned by ``CRON_SEMANTICS.md`` section 1 (syntax) and
section 2 (the DOM/DOW rule); the section is cited where a rule is applied.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from functools import lru_cache

from tickwork.errors import InvalidSpecError

__all__ = ["CronExpr", "parse_cron"]

# CRON_SEMANTICS.md 1, "Macros" (cronie crontab(5) EXTENSIONS). Lower case only: cronie
# compares them case-sensitively, and what is not documented is rejected (section 5).
MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_abbr) if name}
# Weekday names in cron numbering, Sunday = 0.
WEEKDAYS = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}

_FIELDS = ("second", "minute", "hour", "day-of-month", "month", "day-of-week")
_BOUNDS = {
    "second": (0, 59),
    "minute": (0, 59),
    "hour": (0, 23),
    "day-of-month": (1, 31),
    "month": (1, 12),
    "day-of-week": (0, 7),
}
_NAMES = {"month": MONTHS, "day-of-week": WEEKDAYS}
_ATOM = re.compile(r"^(?P<lo>[^-/]+)(?:-(?P<hi>[^-/]+))?(?:/(?P<step>[^/]*))?$")


@dataclass(frozen=True, slots=True)
class CronExpr:
    """A parsed cron expression. Sets use cron numbering (weekday 0 = Sunday)."""

    text: str
    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    months: frozenset[int]
    days: frozenset[int]  # plain days of month 1-31
    last_day: bool  # L
    last_weekday: bool  # LW
    nearest_weekday: int | None  # nW: the weekday nearest day n, inside the month
    weekdays: frozenset[int]  # plain weekdays 0-6
    last_of_weekday: frozenset[int]  # nL: last weekday n of the month
    nth_weekday: frozenset[tuple[int, int]]  # n#k: k-th weekday n of the month
    dom_star: bool  # the day-of-month text starts with '*' (or is '?')
    dow_star: bool
    wildcard: bool  # seconds, minute or hour field starts with '*' (CRON_SEMANTICS 3.1)

    def month_days(self, year: int, month: int) -> tuple[int, ...]:
        """The days of ``month`` in ``year`` that match, ascending (empty if the month does not)."""
        if month not in self.months:
            return ()
        first_weekday, length = calendar.monthrange(year, month)
        return _month_days(self, (first_weekday + 1) % 7, length)


@lru_cache(maxsize=4096)
def _month_days(expr: CronExpr, first_dow: int, length: int) -> tuple[int, ...]:
    # A month's matching days depend only on its length and the weekday of its 1st.
    dom = _dom_days(expr, first_dow, length)
    dow = _dow_days(expr, first_dow, length)
    # CRON_SEMANTICS.md 2 (cronie src/cron.c find_jobs): AND when either day field starts
    # with '*', OR when both are restricted.
    chosen = dom & dow if expr.dom_star or expr.dow_star else dom | dow
    return tuple(sorted(chosen))


def _dom_days(expr: CronExpr, first_dow: int, length: int) -> set[int]:
    days = {d for d in expr.days if d <= length}
    if expr.last_day:
        days.add(length)
    if expr.last_weekday:
        days.add(_nearest_weekday(length, first_dow, length))
    if expr.nearest_weekday is not None and expr.nearest_weekday <= length:
        days.add(_nearest_weekday(expr.nearest_weekday, first_dow, length))
    return days


def _dow_days(expr: CronExpr, first_dow: int, length: int) -> set[int]:
    days: set[int] = set()
    for day in range(1, length + 1):
        dow = (first_dow + day - 1) % 7
        if (
            dow in expr.weekdays
            or (dow in expr.last_of_weekday and day + 7 > length)
            or (dow, (day - 1) // 7 + 1) in expr.nth_weekday
        ):
            days.add(day)
    return days


def _nearest_weekday(day: int, first_dow: int, length: int) -> int:
    """The Monday-Friday nearest ``day``, never leaving the month (Quartz ``W``)."""
    dow = (first_dow + day - 1) % 7
    if dow == 6:  # Saturday: Friday before, or Monday after when the 1st is a Saturday
        return day - 1 if day > 1 else day + 2
    if dow == 0:  # Sunday: Monday after, or Friday before when it is the last day
        return day + 1 if day < length else day - 2
    return day


def parse_cron(text: str) -> CronExpr:
    """Parse a cron expression, or raise ``InvalidSpecError`` naming the failing part.

    Does not check that the expression ever fires; ``CronTrigger`` does that.
    """
    if not isinstance(text, str):
        raise InvalidSpecError("cron", text, "a cron expression as text")
    source = text
    stripped = text.strip()
    try:
        return _parse(stripped, source)
    except InvalidSpecError as err:
        raise err.with_source(source) from None


def _parse(stripped: str, source: str) -> CronExpr:
    if not stripped:
        raise InvalidSpecError(
            "cron",
            source,
            "5 fields (minute hour day-of-month month day-of-week)",
            message="empty cron expression",
        )
    if stripped.startswith("@"):
        if stripped not in MACROS:
            raise InvalidSpecError(
                "macro",
                stripped,
                "one of " + ", ".join(MACROS),
                message=f"unsupported macro {stripped.split()[0]!r}",
            )
        stripped = MACROS[stripped]
    parts = stripped.split()
    if re.match(r"^(CRON_)?TZ=", parts[0]):
        raise InvalidSpecError(
            "cron",
            parts[0],
            "no TZ=/CRON_TZ= prefix; give the zone as the schedule's tz",
            message=f"time-zone prefix {parts[0]!r} is not part of a cron expression",
        )
    if len(parts) not in (5, 6):
        raise InvalidSpecError(
            "cron",
            stripped,
            "5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first",
            message=f"cron expression has {len(parts)} field{'s' if len(parts) != 1 else ''}",
        )
    if len(parts) == 5:
        parts = ["0", *parts]
    named = dict(zip(_FIELDS, parts, strict=True))
    for field in ("second", "minute", "hour", "month"):
        if named[field] == "?" or "?" in named[field]:
            raise InvalidSpecError(
                field,
                named[field],
                "'?' only as a whole day-of-month or day-of-week field",
                message=f"{field} field {named[field]!r} uses '?'",
            )
    dom = _parse_dom(named["day-of-month"])
    dow = _parse_dow(named["day-of-week"])
    return CronExpr(
        text=source.strip(),
        seconds=tuple(sorted(_parse_plain("second", named["second"]))),
        minutes=tuple(sorted(_parse_plain("minute", named["minute"]))),
        hours=tuple(sorted(_parse_plain("hour", named["hour"]))),
        months=frozenset(_parse_plain("month", named["month"])),
        days=dom.days,
        last_day=dom.last,
        last_weekday=dom.last_weekday,
        nearest_weekday=dom.nearest,
        weekdays=dow.days,
        last_of_weekday=dow.last,
        nth_weekday=dow.nth,
        dom_star=named["day-of-month"].startswith(("*", "?")),
        dow_star=named["day-of-week"].startswith(("*", "?")),
        # CRON_SEMANTICS.md 3.1: cronie's MIN_STAR | HR_STAR test, extended to seconds.
        wildcard=any(named[f].startswith("*") for f in ("second", "minute", "hour")),
    )


def _parse_plain(field: str, text: str) -> set[int]:
    values: set[int] = set()
    for item in _items(field, text):
        values |= _parse_item(field, item)
    return values


def _items(field: str, text: str) -> list[str]:
    items = text.split(",")
    for item in items:
        if not item:
            raise InvalidSpecError(
                field,
                text,
                "a comma-separated list of values, ranges or steps",
                message=f"empty list item in {field} field {text!r}",
            )
    return items


def _parse_item(field: str, item: str) -> set[int]:
    """``*``, ``v``, ``a-b``, each with an optional ``/step`` (CRON_SEMANTICS.md 1)."""
    lo_bound, hi_bound = _BOUNDS[field]
    if item.upper() == "H" or item.upper().startswith("H("):
        raise InvalidSpecError(
            field,
            item,
            "numbers, names, '*' ranges and steps; hashed 'H' has no job to hash",
            message=f"hashed value {item!r} in {field} field is not supported",
        )
    match = _ATOM.match(item)
    if match is None:
        raise _bad_value(field, item)
    lo_text, hi_text, step_text = match["lo"], match["hi"], match["step"]
    if lo_text == "*":
        if hi_text is not None:
            raise _bad_value(field, item)
        lo, hi = lo_bound, hi_bound
    else:
        lo = _value(field, lo_text)
        if hi_text is None:
            hi = hi_bound if step_text is not None else lo  # 'v/step' means 'v-max/step'
        else:
            hi = _value(field, hi_text)
            if field == "day-of-week" and hi == 0 and lo > 0:
                hi = 7  # cronie entry.c get_range: 'FRI-SUN' is 5-7 (CRON_SEMANTICS.md 1)
            if hi < lo:
                raise InvalidSpecError(
                    field,
                    item,
                    f"a range low-high with low <= high within {lo_bound}-{hi_bound}",
                    message=f"reversed range {item!r} in {field} field",
                )
    step = 1
    if step_text is not None:
        if not (step_text.isascii() and step_text.isdigit()):
            raise InvalidSpecError(
                "step",
                item,
                "a whole number >= 1 after '/'",
                message=f"bad step {step_text!r} in {field} field item {item!r}",
            )
        step = int(step_text)
        if step < 1:
            raise InvalidSpecError(
                "step",
                item,
                "a whole number >= 1 after '/'",
                message=f"step 0 in {field} field item {item!r}",
            )
    values = set(range(lo, hi + 1, step))  # a step larger than the field selects lo only
    if field == "day-of-week" and 7 in values:
        values = (values - {7}) | {0}  # 0 and 7 are both Sunday
    return values


def _value(field: str, text: str) -> int:
    lo_bound, hi_bound = _BOUNDS[field]
    if text.isascii() and text.isdigit():
        value = int(text)
    elif field in _NAMES and text.lower() in _NAMES[field]:
        value = _NAMES[field][text.lower()]
    else:
        raise _bad_value(field, text)
    if not lo_bound <= value <= hi_bound:
        raise InvalidSpecError(
            field,
            text,
            _expected(field),
            message=f"{field} value {text} is out of range",
        )
    return value


def _expected(field: str) -> str:
    lo, hi = _BOUNDS[field]
    names = {"month": " or JAN-DEC", "day-of-week": " (0 and 7 are Sunday) or SUN-SAT"}
    return f"{lo}-{hi}{names.get(field, '')}"


def _bad_value(field: str, text: str) -> InvalidSpecError:
    return InvalidSpecError(
        field,
        text,
        f"a number {_expected(field)}, '*', a range a-b or a step /n",
        message=f"bad value {text!r} in {field} field",
    )


@dataclass(frozen=True, slots=True)
class _Dom:
    days: frozenset[int]
    last: bool
    last_weekday: bool
    nearest: int | None


def _parse_dom(text: str) -> _Dom:
    field = "day-of-month"
    if text == "?":
        return _Dom(frozenset(range(1, 32)), False, False, None)
    days: set[int] = set()
    last = last_weekday = False
    nearest: int | None = None
    items = _items(field, text)
    for item in items:
        upper = item.upper()
        if upper == "L":
            last = True
        elif upper == "LW":
            last_weekday = True
        elif upper.endswith("W"):
            if len(items) != 1:
                raise InvalidSpecError(
                    field,
                    text,
                    "'nW' as the whole day-of-month field",
                    message=f"{item!r} cannot be combined with other days",
                )
            nearest = _value(field, item[:-1])
        else:
            days |= _parse_item(field, item)
    return _Dom(frozenset(days), last, last_weekday, nearest)


@dataclass(frozen=True, slots=True)
class _Dow:
    days: frozenset[int]
    last: frozenset[int]
    nth: frozenset[tuple[int, int]]


def _parse_dow(text: str) -> _Dow:
    field = "day-of-week"
    if text == "?":
        return _Dow(frozenset(range(7)), frozenset(), frozenset())
    days: set[int] = set()
    last: set[int] = set()
    nth: set[tuple[int, int]] = set()
    for item in _items(field, text):
        if "#" in item:
            weekday_text, _, k_text = item.partition("#")
            weekday = _value(field, weekday_text) % 7
            if not (k_text.isascii() and k_text.isdigit() and 1 <= int(k_text) <= 5):
                raise InvalidSpecError(
                    field,
                    item,
                    "weekday#k with k from 1 to 5 (MON#2 = second Monday)",
                    message=f"bad occurrence {k_text!r} in {item!r}",
                )
            nth.add((weekday, int(k_text)))
        elif item[-1:] in ("L", "l") and len(item) > 1:
            number = item[:-1]
            if not (number.isascii() and number.isdigit()):
                raise _bad_value(field, item)  # 'MONL', '5L-6': only digits before L
            last.add(_value(field, number) % 7)
        else:
            days |= _parse_item(field, item)
    return _Dow(frozenset(days), frozenset(last), frozenset(nth))
