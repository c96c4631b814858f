"""Triggers: pure functions from an instant to the next nominal fire instant."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, tzinfo
from itertools import takewhile

from tickwork.durations import parse_duration
from tickwork.errors import InvalidSpecError
from tickwork.triggers.base import Trigger
from tickwork.triggers.bounds import BoundedTrigger
from tickwork.triggers.cron import CronTrigger
from tickwork.triggers.interval import IntervalTrigger
from tickwork.triggers.jitter import jitter_offset, jittered
from tickwork.triggers.once import OnceTrigger
from tickwork.zones import parse_instant

__all__ = [
    "BoundedTrigger",
    "CronTrigger",
    "IntervalTrigger",
    "OnceTrigger",
    "Trigger",
    "build_trigger",
    "fires",
    "fires_through",
    "jitter_offset",
    "jittered",
]


def build_trigger(
    *,
    cron: str | None = None,
    every: str | None = None,
    at: str | datetime | None = None,
    tz: tzinfo = UTC,
    anchor: datetime | None = None,
    start_at: datetime | None = None,
    end_at: datetime | None = None,
) -> Trigger:
    """The trigger for exactly one of ``cron``, ``every`` or ``at``, within the bounds.

    An interval is anchored at ``anchor``, else ``start_at``; one of them is required.
    """
    given = [n for n, v in (("cron", cron), ("every", every), ("at", at)) if v is not None]
    if len(given) != 1:
        raise InvalidSpecError(
            "trigger",
            ", ".join(given) or "none",
            "exactly one of cron, every or at",
            message="a schedule needs exactly one trigger"
            if not given
            else f"conflicting triggers: {', '.join(given)}",
        )
    trigger: Trigger
    if cron is not None:
        trigger = CronTrigger(cron, tz)
    elif every is not None:
        base = anchor or start_at
        if base is None:
            raise InvalidSpecError("anchor", None, "an anchor instant for an interval trigger")
        trigger = IntervalTrigger(parse_duration(every, "every"), base)
    else:
        assert at is not None
        trigger = OnceTrigger(parse_instant(at, "at"))
    if start_at is None and end_at is None:
        return trigger
    return BoundedTrigger(trigger, start_at, end_at)


def fires(trigger: Trigger, after: datetime, count: int) -> Iterator[datetime]:
    """Up to ``count`` successive fires strictly after ``after``."""
    current: datetime | None = after
    for _ in range(count):
        assert current is not None
        current = trigger.next_after(current)
        if current is None:
            return
        yield current


def fires_through(trigger: Trigger, after: datetime, until: datetime, limit: int) -> list[datetime]:
    """The fires strictly after ``after`` and not after ``until``, oldest first, at most
    ``limit`` (a cron trigger finds them a day at a time: ``CronTrigger.fires_through``)."""
    if isinstance(trigger, CronTrigger):
        return trigger.fires_through(after, until, limit)
    return list(takewhile(lambda fire: fire <= until, fires(trigger, after, limit)))
