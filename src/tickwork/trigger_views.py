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
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from tickwork.spec import ScheduleSpec, trigger_text
from tickwork.triggers import Trigger
from tickwork.triggers.describe import describe

__all__ = ["CACHE_SIZE", "TriggerView", "trigger_view"]

CACHE_SIZE = 4096
TRIGGER_KEYS = ("cron", "every", "at", "tz", "start_at", "end_at")


@dataclass(frozen=True, slots=True)
class TriggerView:
    trigger: Trigger
    description: str  # plain English ("At minute 5 past every hour")
    text: str  # the cron text, "every 15m" or "at <instant>"
    tz: ZoneInfo


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
