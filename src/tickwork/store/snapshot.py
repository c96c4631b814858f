"""What the metrics collector reads from the store at scrape time (``MetricsStore``).

The state of the whole system (every process, every host) is in the database, so it is read
from there when Prometheus scrapes, whichever process answers; see docs/metrics.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from tickwork.model import RunState, WorkerInfo

__all__ = ["MetricsStore", "ScheduleStatus", "SystemSnapshot"]


@dataclass(frozen=True, slots=True)
class ScheduleStatus:
    """One non-retired schedule as the metrics see it."""

    name: str
    paused: bool
    last_success_at: datetime | None  # the newest success, kept or pruned
    overdue_since: datetime | None  # set by overdue detection; None when on time or unknown


@dataclass(frozen=True, slots=True)
class SystemSnapshot:
    now: datetime
    # Runs in a terminal state per (schedule, state), pruned runs (tw_run_counts) included:
    # a counter that never goes down while retention deletes rows.
    finished: dict[tuple[str, RunState], int] = field(default_factory=dict)
    # Runs not yet terminal, by state (queued, retrying, running); every state present.
    unfinished: dict[RunState, int] = field(default_factory=dict)
    due: int = 0  # waiting runs (queued, retrying) due at ``now``: the queue depth
    schedules: tuple[ScheduleStatus, ...] = ()  # ordered by name
    workers: tuple[WorkerInfo, ...] = ()


@runtime_checkable
class MetricsStore(Protocol):
    """A store that can describe the whole system for ``/metrics``."""

    def metrics_snapshot(self, now: datetime) -> SystemSnapshot:
        """Counts and instants for the metrics, read in one read transaction (one snapshot
        on SQLite; statement by statement on PostgreSQL, whose reads run in autocommit).
        Writes nothing. Raises ``StoreUnavailableError`` when the database cannot be read."""
        ...
