"""``BoundedTrigger``: a trigger limited to [start_at, end_at] (both inclusive)."""

from __future__ import annotations

from datetime import datetime, timedelta

from tickwork.errors import InvalidSpecError
from tickwork.triggers.base import Trigger

__all__ = ["BoundedTrigger"]

_TICK = timedelta(microseconds=1)


class BoundedTrigger:
    __slots__ = ("end_at", "inner", "start_at")

    def __init__(
        self, inner: Trigger, start_at: datetime | None = None, end_at: datetime | None = None
    ) -> None:
        if start_at is not None and end_at is not None and end_at < start_at:
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
        if self.start_at is not None and instant < self.start_at:
            instant = self.start_at - _TICK  # nothing before start_at; start_at itself may fire
        fire = self.inner.next_after(instant)
        if fire is None or (self.end_at is not None and fire > self.end_at):
            return None
        return fire
