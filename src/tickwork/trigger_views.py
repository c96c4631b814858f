"""A stored schedule's trigger as the ways in show it, parsed once per definition.

Listing schedules (the API's pages, the dashboard) would otherwise parse every cron
expression and write its plain-English description again on every request: the most
expensive part of ``GET /api/v1/schedules``. Triggers are pure and immutable (DESIGN.md:
"pure core"), so one built trigger can serve every request that shows the same definition.

The key is the trigger's part of the stored spec (``cron``/``every``/``at``, ``tz``, the
bounds) and, for an interval only, the anchor it counts from: everything
``ScheduleSpec.trigger`` reads, so equal keys always build equal triggers. The memory is a
bounded LRU (``CACHE_SIZE`` definitions); a definition that changed has another key.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from tickwork.spec import ScheduleSpec, trigger_text
from tickwork.triggers import Trigger, fires
from tickwork.triggers.describe import describe

__all__ = ["CACHE_SIZE", "UPCOMING_KEPT", "TriggerView", "trigger_view"]

CACHE_SIZE = 4096
UPCOMING_KEPT = 8  # next-fire answers kept per definition (see TriggerView.upcoming)
TRIGGER_KEYS = ("cron", "every", "at", "tz", "start_at", "end_at")


@dataclass(frozen=True, slots=True)
class TriggerView:
    trigger: Trigger
    description: str  # plain English ("At minute 5 past every hour")
    text: str  # the cron text, "every 15m" or "at <instant>"
    tz: ZoneInfo
    # (first fire, count) -> the fires as ISO text in ``tz``; see ``upcoming``.
    _upcoming: dict[tuple[datetime, int], tuple[str, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def upcoming(self, first: datetime, count: int) -> tuple[str, ...]:
        """``first`` and the ``count - 1`` fires after it, as ISO text in the zone. A page of
        schedules asks this of every row on every request, and the answer only changes when
        ``first`` (the stored next fire) does, so the last UPCOMING_KEPT answers are kept."""
        key = (first, count)
        found = self._upcoming.get(key)
        if found is None:
            instants = [first, *fires(self.trigger, first, count - 1)] if count > 0 else []
            found = tuple(f.astimezone(self.tz).isoformat() for f in instants)
            if len(self._upcoming) >= UPCOMING_KEPT:
                self._upcoming.clear()  # a schedule moved on: its older answers are dead
            self._upcoming[key] = found
        return found


def trigger_view(stored: Mapping[str, Any], anchor: datetime) -> TriggerView:
    """The trigger of a stored (validated) spec, described; raises what
    ``ScheduleSpec.from_stored`` and ``ScheduleSpec.trigger`` raise for one that is not."""
    # Only an interval counts from its anchor; cron and one-off triggers share one entry.
    key = (*(stored.get(k) for k in TRIGGER_KEYS), anchor if stored.get("every") else None)
    try:
        with _lock:
            view = _views.get(key)
            if view is not None:
                _views.move_to_end(key)
                return view
    except TypeError:  # an unhashable value in a spec this version did not write
        return _build(stored, anchor)
    view = _build(stored, anchor)
    with _lock:
        _views[key] = view
        while len(_views) > CACHE_SIZE:
            _views.popitem(last=False)
    return view


_views: OrderedDict[tuple[Any, ...], TriggerView] = OrderedDict()
_lock = threading.Lock()  # routes run in a thread pool


def _build(stored: Mapping[str, Any], anchor: datetime) -> TriggerView:
    spec = ScheduleSpec.from_stored(stored)
    trigger = spec.trigger(anchor)
    return TriggerView(trigger, describe(trigger), trigger_text(stored), spec.tz)
