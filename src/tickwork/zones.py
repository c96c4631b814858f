"""IANA time zones by name, with errors that say what was expected."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tickwork.errors import InvalidSpecError

__all__ = ["load_zone", "parse_instant"]


def load_zone(name: str, field: str = "tz") -> ZoneInfo:
    """The zone called ``name`` (``Europe/Berlin``, ``UTC``...), or ``InvalidSpecError``."""
    expected = "an IANA time zone name such as Europe/Berlin, America/New_York or UTC"
    if not isinstance(name, str) or not name.strip():
        raise InvalidSpecError(field, name, expected, message=f"empty {field}")
    if name.upper().startswith(("TZ=", "CRON_TZ=")):
        raise InvalidSpecError(field, name, expected, message=f"{field} {name!r} has a TZ= prefix")
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidSpecError(
            field, name, expected, message=f"unknown time zone {name!r}"
        ) from None


def parse_instant(text: str | datetime, field: str = "at") -> datetime:
    """An ISO 8601 instant that carries its UTC offset (``Z`` allowed)."""
    expected = "an ISO 8601 instant with a UTC offset, e.g. 2026-12-24T18:00:00+01:00"
    if isinstance(text, datetime):
        value = text
    else:
        if not isinstance(text, str):
            raise InvalidSpecError(field, text, expected, message=f"{field} must be text")
        try:
            value = datetime.fromisoformat(text.strip())
        except ValueError:
            raise InvalidSpecError(field, text, expected, message=f"bad {field} {text!r}") from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidSpecError(
            field, text, expected, message=f"{field} {text!r} has no UTC offset (ambiguous)"
        )
    try:
        value.astimezone(UTC)  # instants are stored and compared in UTC
    except OverflowError:
        raise InvalidSpecError(
            field,
            text,
            "an instant from year 1 to 9999 in UTC",
            message=f"{field} {text!r} is outside the years 1 to 9999 in UTC",
        ) from None
    return value
