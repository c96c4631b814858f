"""Durations as people write them in config: ``90s``, ``15m``, ``1h30m``, ``1d``, ``2w``."""

from __future__ import annotations

import re
from datetime import timedelta
from functools import lru_cache

from tickwork.errors import InvalidSpecError

__all__ = ["format_duration", "parse_duration"]

_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_PART = re.compile(r"(\d+)(ms|[wdhms])")
# 100 years: far past any schedule's need, and instant + duration stays representable (a
# jitter or grace of a million years would overflow datetime in the scheduler).
_MAX_MS = 36500 * 86400 * 1000
_EXPECTED = "a duration such as 90s, 15m, 1h30m, 1d or 2w (units w d h m s ms, largest first)"


def parse_duration(text: str, field: str = "duration", *, allow_zero: bool = False) -> timedelta:
    """Parse ``text`` into a timedelta, or raise ``InvalidSpecError`` naming ``field``."""
    if not isinstance(text, str):
        raise InvalidSpecError(field, text, _EXPECTED, message=f"{field} must be text")
    return _parse(text, field, allow_zero)


@lru_cache(maxsize=1024)  # a spec's durations are parsed each time a run of it is planned
def _parse(text: str, field: str, allow_zero: bool) -> timedelta:
    compact = text.strip().lower()
    pos, total_ms, last_rank = 0, 0, -1
    order = ["w", "d", "h", "m", "s", "ms"]
    while pos < len(compact):
        match = _PART.match(compact, pos)
        if match is None:
            raise InvalidSpecError(field, text, _EXPECTED, message=f"bad {field} {text!r}")
        number, unit = int(match[1]), match[2]
        rank = order.index(unit)
        if rank <= last_rank:
            raise InvalidSpecError(
                field, text, _EXPECTED, message=f"units out of order or repeated in {text!r}"
            )
        last_rank = rank
        total_ms += number if unit == "ms" else number * _UNITS[unit] * 1000
        pos = match.end()
    if not compact:
        raise InvalidSpecError(field, text, _EXPECTED, message=f"empty {field}")
    if total_ms > _MAX_MS:
        raise InvalidSpecError(
            field, text, "a duration of at most 100 years (36500d)", message=f"{field} too long"
        )
    if total_ms == 0 and not allow_zero:
        raise InvalidSpecError(field, text, "a duration greater than zero", message=f"zero {field}")
    return timedelta(milliseconds=total_ms)


def format_duration(value: timedelta) -> str:
    """The compact form ``parse_duration`` reads back: ``timedelta(seconds=5400)`` -> ``1h30m``."""
    ms = value // timedelta(milliseconds=1)
    if ms == 0:
        return "0s"
    parts = []
    seconds, rest_ms = divmod(ms, 1000)
    for unit, size in _UNITS.items():
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    if rest_ms:
        parts.append(f"{rest_ms}ms")
    return "".join(parts)
