"""``OverviewStore``: the reads the dashboard needs to show a page of a large store — each
bounded by what the page shows, never by how many schedules or runs exist."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from tickwork.model import Run, ScheduleRow

__all__ = ["OverviewStore", "ScheduleCounts"]


@dataclass(frozen=True, slots=True)
class ScheduleCounts:
    live: int  # not retired
    paused: int  # live and paused


@runtime_checkable
class OverviewStore(Protocol):
    def recent_runs(self, names: Sequence[str], per_schedule: int) -> dict[str, list[Run]]:
        """The latest ``per_schedule`` runs (highest ids) of each schedule in ``names``,
        newest first, in one read (an index range per schedule, so the cost follows what is
        shown, not what is stored). Every name is a key; one without runs maps to []. Writes
        nothing; raises ``StoreUnavailableError`` when the database cannot be read."""
        ...

    def next_up(self, limit: int) -> list[ScheduleRow]:
        """At most ``limit`` live, unpaused schedules with a next fire, soonest first (ties
        by name): read along the ``next_fire_at`` index. Writes nothing."""
        ...

    def schedule_counts(self) -> ScheduleCounts:
        """How many schedules are live (not retired), and how many of those are paused."""
        ...
