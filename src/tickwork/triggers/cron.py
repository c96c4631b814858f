"""``CronTrigger``: the fire instants of a cron expression in an IANA zone.

Pure: no clock, no I/O. Instants are handled as whole POSIX seconds and wall times as "local
seconds" (seconds since 1970-01-01 00:00 on the zone's wall clock), so one day's fires are
found with integer arithmetic and a bisect, never by walking minute by minute.

DST follows CRON_SEMANTICS.md 3.1 (cronie's rule): a *wildcard* job fires at every real
occurrence of a matching wall time and not at all for wall times a gap skips; a *fixed-time*
job fires once, at the first occurrence of a repeated wall time, and a gap's skipped slots
(plus a slot exactly at the gap's end) collapse into one fire at the first instant after it.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache

from tickwork.errors import InvalidSpecError
from tickwork.triggers.cronexpr import CronExpr, parse_cron

__all__ = ["CronTrigger"]

_DAY = 86400
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
# The Gregorian calendar repeats every 400 years (146 097 days = 20 871 weeks), so a day
# pattern with no match in 400 consecutive years never matches (CRON_SEMANTICS.md 2).
_CYCLE_YEARS = 400
# Transitions of one zone are at least 4 days apart in the whole tz database after 1900, and
# no UTC offset change exceeds a day; this window around a day therefore holds at most one
# transition, and every transition that can move that day's wall times.
_WINDOW = 25 * 3600
_MEMO_SIZE = 256  # searches a trigger remembers (CronTrigger._next_second)
_UNKNOWN = object()  # not remembered


@dataclass(frozen=True, slots=True)
class _DayShape:
    """How one local day maps to instants: one offset, or one transition inside its reach."""

    offset: int  # offset before the transition (or the only one), seconds east of UTC
    transition: int | None = None  # first instant of the new offset
    offset_after: int = 0


class CronTrigger:
    """Fire instants of a cron expression evaluated on the wall clock of ``tz``."""

    __slots__ = ("_memo", "expr", "tz")

    def __init__(self, expression: str | CronExpr, tz: tzinfo = UTC) -> None:
        # parse_cron refuses what is not text with an InvalidSpecError (cron=15 in a config).
        self.expr = expression if isinstance(expression, CronExpr) else parse_cron(expression)
        self.tz = tz
        # The last searches' answers: the schedules of one definition share this trigger
        # (``spec.trigger_of``), and a scheduler pass asks it the same question for each
        # of them (200 schedules of "* * * * * *" due at one second: one search, not 400).
        self._memo: dict[int, int | None] = {}
        if not self._ever_matches():
            raise InvalidSpecError(
                "cron",
                self.expr.text,
                "an expression that matches at least one calendar day",
                message=f"cron expression {self.expr.text!r} never fires",
            )

    def __repr__(self) -> str:
        return f"CronTrigger({self.expr.text!r}, tz={self.tz!s})"

    def next_after(self, instant: datetime) -> datetime | None:
        """The first fire strictly after ``instant`` (aware), in ``tz``; None if there is none."""
        fire = self._next_second(_seconds(instant) + 1)
        return None if fire is None else datetime.fromtimestamp(fire, self.tz)

    def fires_through(self, after: datetime, until: datetime, limit: int) -> list[datetime]:
        """The fires strictly after ``after`` and not after ``until`` (both aware), oldest
        first, at most ``limit``: exactly what chaining ``next_after`` gives. The rest of a
        day that no transition reaches is enumerated by bisects alone (a catch-up of an
        every-second schedule asks for hundreds of fires at once)."""
        end = _seconds(until)  # fires are whole seconds: <= until is <= its floor
        earliest = _seconds(after) + 1
        found: list[int] = []
        while len(found) < limit:
            fire = self._next_second(earliest)
            if fire is None or fire > end:
                break
            found.append(fire)
            if not self._rest_of_day(fire, end, limit, found):
                break
            earliest = found[-1] + 1
        return [datetime.fromtimestamp(f, self.tz) for f in found]

    def _rest_of_day(self, fire: int, end: int, limit: int, found: list[int]) -> bool:
        """Append the fires after ``fire`` on its local day, when no transition reaches that
        day (one offset throughout), up to ``end`` and ``limit``. False once ``end`` is
        passed (nothing later can be wanted)."""
        wall = fire + _offset(self.tz, fire)
        shape = _day_shape(self.tz, date.fromordinal(_EPOCH_ORDINAL + wall // _DAY))
        if shape.transition is not None:
            return True  # next_after's own search handles such a day
        day_start = wall - wall % _DAY
        second = wall - day_start
        while len(found) < limit:
            following = _first_time(self.expr, second + 1)
            if following is None:
                return True  # the day is done; the next matching day is searched for
            fire = day_start + following - shape.offset
            if fire > end:
                return False
            found.append(fire)
            second = following
        return True

    # -- search --------------------------------------------------------------------------

    def _ever_matches(self) -> bool:
        return any(
            self.expr.month_days(year, month)
            for year in range(2000, 2000 + _CYCLE_YEARS)
            for month in sorted(self.expr.months)
        )

    def _next_second(self, earliest: int) -> int | None:
        """The first fire instant >= ``earliest`` (POSIX seconds), remembered."""
        memo = self._memo
        known = memo.get(earliest, _UNKNOWN)  # one lookup: another thread may clear it
        if known is not _UNKNOWN:
            return known  # type: ignore[return-value]  # an int or None, as stored
        if len(memo) >= _MEMO_SIZE:
            memo.clear()  # a thread reading meanwhile misses, never gets a wrong answer
        found = memo[earliest] = self._search(earliest)
        return found

    def _search(self, earliest: int) -> int | None:
        """The first fire instant >= ``earliest`` (POSIX seconds)."""
        try:
            wall = earliest + _offset(self.tz, earliest)
            # Start a day early: a repeated hour can put the next fire on the previous date.
            first = date.fromordinal(_EPOCH_ORDINAL + wall // _DAY - 1)
            last_year = min(first.year + _CYCLE_YEARS + 1, 9999)
            day: date | None = first
            while day is not None:
                day = self._next_matching_day(day, last_year)
                if day is None:
                    return None
                fire = self._first_on_day(day, earliest)
                if fire is not None:
                    return self._earlier_next_day(day, earliest, fire)
                day = day + timedelta(days=1)
        except (OverflowError, ValueError):  # beyond year 9999
            return None
        return None

    def _earlier_next_day(self, day: date, earliest: int, fire: int) -> int:
        """A fall-back transition near midnight can put the next day's first pass before
        ``fire`` (taken from this day's second pass); return the earlier of the two."""
        if _day_shape(self.tz, day).transition is None:
            return fire
        following = day + timedelta(days=1)
        if following.day not in self.expr.month_days(following.year, following.month):
            return fire
        other = self._first_on_day(following, earliest)
        return fire if other is None else min(fire, other)

    def _next_matching_day(self, day: date, last_year: int) -> date | None:
        year, month, dom = day.year, day.month, day.day
        while year <= last_year:
            days = self.expr.month_days(year, month)
            i = bisect_left(days, dom)
            if i < len(days):
                return date(year, month, days[i])
            year, month, dom = (year + 1, 1, 1) if month == 12 else (year, month + 1, 1)
        return None

    def _first_on_day(self, day: date, earliest: int) -> int | None:
        """The first fire >= ``earliest`` among the fires of a matching local ``day``."""
        start = (day.toordinal() - _EPOCH_ORDINAL) * _DAY  # wall seconds at 00:00
        end = start + _DAY
        shape = _day_shape(self.tz, day)
        before = shape.offset
        if shape.transition is None:
            wall = self._first_wall(start, max(start, earliest + before), end)
            return None if wall is None else wall - before
        moment, after = shape.transition, shape.offset_after
        # First pass: wall times before the transition, at the old offset.
        wall = self._first_wall(start, max(start, earliest + before), min(end, moment + before))
        if wall is not None:
            return wall - before
        # Second pass: wall times from the transition on, at the new offset.
        resume = max(start, moment + after)
        if not self.expr.wildcard:
            if after < before:
                resume = max(start, moment + before)  # repeated slots already ran, once
            elif moment >= earliest:
                gap_lo, gap_hi = max(start, moment + before), min(end, moment + after + 1)
                if gap_lo < gap_hi and self._first_wall(start, gap_lo, gap_hi) is not None:
                    return moment  # skipped slots run once, at the first instant after the gap
        wall = self._first_wall(start, max(resume, earliest + after), end)
        return None if wall is None else wall - after

    def _first_wall(self, day_start: int, lo: int, hi: int) -> int | None:
        """The first matching wall second in [lo, hi) of the day starting at ``day_start``."""
        if lo >= hi:
            return None
        second_of_day = _first_time(self.expr, lo - day_start)
        if second_of_day is None:
            return None
        wall = day_start + second_of_day
        return wall if wall < hi else None


def _seconds(instant: datetime) -> int:
    """``instant`` (aware) as whole POSIX seconds, floored (microseconds dropped)."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise InvalidSpecError(
            "after",
            instant.isoformat(),
            "an aware instant (with a UTC offset)",
            message="naive instant given to a trigger",
        )
    return (instant - _EPOCH) // timedelta(seconds=1)


def _first_time(expr: CronExpr, at_least: int) -> int | None:
    """The first matching second of the day >= ``at_least``, or None."""
    hours, minutes, seconds = expr.hours, expr.minutes, expr.seconds
    hour, rest = divmod(at_least, 3600)
    minute, second = divmod(rest, 60)
    i = bisect_left(hours, hour)
    if i == len(hours):
        return None
    if hours[i] == hour:
        j = bisect_left(minutes, minute)
        if j < len(minutes) and minutes[j] == minute:
            k = bisect_left(seconds, second)
            if k < len(seconds):
                return hour * 3600 + minute * 60 + seconds[k]
            j += 1
        if j < len(minutes):
            return hour * 3600 + minutes[j] * 60 + seconds[0]
        i += 1
        if i == len(hours):
            return None
    return hours[i] * 3600 + minutes[0] * 60 + seconds[0]


def _offset(tz: tzinfo, instant: int) -> int:
    offset = datetime.fromtimestamp(instant, tz).utcoffset()
    assert offset is not None  # an aware datetime from fromtimestamp always has one
    return offset // timedelta(seconds=1)


def _local_midnight(tz: tzinfo, day: date) -> int:
    """The instant of 00:00 on ``day`` read with fold=0 (the pre-transition offset in a gap)."""
    return int(datetime(day.year, day.month, day.day, tzinfo=tz).timestamp())


@lru_cache(maxsize=16384)
def _day_shape(tz: tzinfo, day: date) -> _DayShape:
    begin = _local_midnight(tz, day)
    finish = _local_midnight(tz, day + timedelta(days=1))
    lo, hi = begin - _WINDOW, finish + _WINDOW
    offset_lo, offset_hi = _offset(tz, lo), _offset(tz, hi)
    if finish - begin == _DAY and offset_lo == offset_hi == _offset(tz, begin):
        return _DayShape(offset_lo)
    if offset_lo == offset_hi:  # two transitions in the window: never seen in the tz database
        return _DayShape(_offset(tz, begin))
    while hi - lo > 1:  # invariant: offset(lo) is the old offset, offset(hi) the new one
        mid = (lo + hi) // 2
        if _offset(tz, mid) == offset_lo:
            lo = mid
        else:
            hi = mid
    return _DayShape(offset_lo, transition=hi, offset_after=offset_hi)
