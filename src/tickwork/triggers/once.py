"""``OnceTrigger``: a single instant; never fires again."""

from __future__ import annotations

from datetime import UTC, datetime

from tickwork.errors import InvalidSpecError

__all__ = ["OnceTrigger"]


class OnceTrigger:
    __slots__ = ("at",)

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None or at.utcoffset() is None:
            raise InvalidSpecError("at", at.isoformat(), "an instant with a UTC offset")
        self.at = at

    def __repr__(self) -> str:
        return f"OnceTrigger({self.at.isoformat()})"

    def next_after(self, instant: datetime) -> datetime | None:
        # In UTC: datetimes that share a ZoneInfo compare as wall times, ignoring fold.
        return self.at if self.at.astimezone(UTC) > instant.astimezone(UTC) else None
