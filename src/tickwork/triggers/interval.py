"""``IntervalTrigger``: fixed rate from an anchor; fire n is exactly anchor + n * every."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tickwork.errors import InvalidSpecError

__all__ = ["IntervalTrigger"]


class IntervalTrigger:
    """Fires at ``anchor + n * every`` for n = 0, 1, 2...; never drifts with run time."""

    __slots__ = ("anchor", "every")

    def __init__(self, every: timedelta, anchor: datetime) -> None:
        if every <= timedelta(0):
            raise InvalidSpecError("every", str(every), "a duration greater than zero")
        if anchor.tzinfo is None or anchor.utcoffset() is None:
            raise InvalidSpecError("anchor", anchor.isoformat(), "an aware instant")
        self.every = every
        self.anchor = anchor

    def __repr__(self) -> str:
        return f"IntervalTrigger(every={self.every!r}, anchor={self.anchor.isoformat()})"

    def next_after(self, instant: datetime) -> datetime | None:
        # In UTC: Python adds to and subtracts datetimes that share a ZoneInfo as wall times,
        # which would shift the rate by the DST offset change. The fire keeps the anchor's zone.
        anchor = self.anchor.astimezone(UTC)
        instant = instant.astimezone(UTC)
        if instant < anchor:
            return self.anchor
        n = (instant - anchor) // self.every + 1
        try:
            return (anchor + n * self.every).astimezone(self.anchor.tzinfo)
        except OverflowError:  # the next fire lies past year 9999: there is none
            return None
