"""``BoundedTrigger``: a trigger limited to [start_at, end_at] (both inclusive)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tickwork.errors import InvalidSpecError
from tickwork.triggers.base import Trigger

__all__ = ["BoundedTrigger"]

_TICK = timedelta(microseconds=1)


class BoundedTrigger:
    __slots__ = ("end_at", "inner", "start_at")

    def __init__(
        self, inner: Trigger, start_at: datetime | None = None, end_at: datetime | None = None
    ) -> None:
        if start_at is not None and end_at is not None and _utc(end_at) < _utc(start_at):
            raise InvalidSpecError(
                "end_at",
                end_at.isoformat(),
                f"an instant at or after start_at {start_at.isoformat()}",
                message="end_at is before start_at",
            )
        self.inner, self.start_at, self.end_at = inner, start_at, end_at

    def __repr__(self) -> str:
        return f"BoundedTrigger({self.inner!r}, start_at={self.start_at}, end_at={self.end_at})"

    def next_after(self, instant: datetime) -> datetime | None:
        # Compared in UTC: datetimes that share a ZoneInfo compare as wall times, ignoring fold.
        if self.start_at is not None and _utc(instant) < _utc(self.start_at):
            instant = _utc(self.start_at) - _TICK  # nothing before start_at; it may fire itself
        fire = self.inner.next_after(instant)
        if fire is None or (self.end_at is not None and _utc(fire) > _utc(self.end_at)):
            return None
        return fire


def _utc(instant: datetime) -> datetime:
    return instant.astimezone(UTC)
