"""The store's operations interface: backfill, schedule health and overdue, the alert outbox,
retention and schema status (issue 7). ``SQLStore`` implements it (``store/sql_ops.py``);
both stores pass ``tests/contract/test_ops.py``.

Like ``Store``, each method is one transaction, ``now`` is passed in and stores never read
the clock; policies decide (``policies/overdue.py``), the store persists the decision.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from tickwork.model import Run, RunState, ScheduleRow

__all__ = [
    "ALERT_KINDS",
    "BACKFILL_PARKED",
    "Alert",
    "BackfillChunk",
    "BackfillRelease",
    "FinishedCursor",
    "FinishedReport",
    "OperationsStore",
    "OverdueDecider",
    "OverdueReport",
    "ScheduleHealth",
]

# A backfill run waiting its turn (``--overlap buffer_all``) is queued with this due time, so
# no claim sees it; ``release_backfill`` makes the oldest one due when its schedule is idle.
BACKFILL_PARKED = datetime(9999, 1, 1, tzinfo=UTC)
ALERT_KINDS = ("run_failed", "overdue", "paused_on_failure")


@dataclass(frozen=True, slots=True)
class Alert:
    id: int
    kind: str  # one of ALERT_KINDS
    schedule: str
    run_id: int | None
    fire: datetime | None
    payload: dict[str, Any]
    created_at: datetime
    attempts: int  # delivery attempts begun (the claim counts one)
    next_attempt_at: datetime
    delivered_at: datetime | None = None
    failed_at: datetime | None = None
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class ScheduleHealth:
    schedule: str
    last_success_at: datetime | None
    last_success_fire: datetime | None
    consecutive_failures: int
    overdue_since: datetime | None
    overdue_fire: datetime | None


@dataclass(frozen=True, slots=True)
class BackfillChunk:
    created: tuple[Run, ...] = ()
    existing: int = 0  # fires that already had a run (left alone: promise 1)


@dataclass(frozen=True, slots=True)
class BackfillRelease:
    released: tuple[Run, ...] = ()
    waiting: bool = False  # parked backfill runs remain (some schedule is still busy)


FinishedCursor = tuple[datetime, int]  # (finished_at, id) of the last run looked at


@dataclass(frozen=True, slots=True)
class FinishedReport:
    cursor: FinishedCursor | None
    scanned: int = 0
    alerts: tuple[Alert, ...] = ()
    paused: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OverdueReport:
    next_after: int | None  # schedule id to continue after; None: the scan wrapped around
    overdue: tuple[str, ...] = ()  # schedules overdue now
    cleared: tuple[str, ...] = ()  # schedules no longer overdue
    alerts: tuple[Alert, ...] = ()


# Given a schedule row and its last succeeded nominal fire: (fire, since) when overdue, else
# None (``policies.overdue.decide_overdue`` with the schedule's trigger). Pure.
OverdueDecider = Callable[[ScheduleRow, datetime | None], tuple[datetime, datetime] | None]


@runtime_checkable
class OperationsStore(Protocol):
    """Operations the monitor, the alert sender and the ops CLI need."""

    # -- backfill ------------------------------------------------------------------------

    def backfill_runs(
        self, name: str, fires: Sequence[datetime], now: datetime, *, parked: bool
    ) -> BackfillChunk:
        """Create a ``queued`` run of kind ``backfill`` for each nominal fire of ``name`` that
        has no run yet (the unique key decides: never a second run for a fire), due now or,
        with ``parked``, at ``BACKFILL_PARKED``; event ``run_triggered`` per run. Raises
        ``ScheduleNotFoundError`` (nothing written) for an unknown or retired schedule."""
        ...

    def runs_at(self, name: str, fires: Sequence[datetime]) -> dict[datetime, RunState]:
        """The state of the run of each of ``fires`` that has one (UTC instants as keys)."""
        ...

    def release_backfill(self, now: datetime, limit: int) -> BackfillRelease:
        """For up to ``limit`` schedules with parked backfill runs, not paused and with no
        running, retrying or due queued run: make the oldest parked run due ``now``. A
        schedule thus runs its backfill one run at a time, oldest fire first."""
        ...

    # -- health, overdue and alerts ------------------------------------------------------

    def record_finished(
        self,
        now: datetime,
        after: FinishedCursor | None,
        until: datetime,
        *,
        pause_after: int,
        limit: int,
    ) -> FinishedReport:
        """Look at up to ``limit`` runs that finished (succeeded, failed, timed_out) after
        ``after`` and at or before ``until``, by (finished_at, id). For each schedule seen:
        recompute ``tw_schedule_health`` (last success, failures in a row since it); for each
        final failure insert a ``run_failed`` alert; when ``pause_after`` > 0 and a schedule
        has that many failures in a row, insert a ``paused_on_failure`` alert for its latest
        failure and, only if that alert is new, pause it. Alerts are unique per (kind,
        schedule, fire), so several schedulers insert each once; a schedule resumed by hand is
        paused again only by a newer failure."""
        ...

    def check_overdue(
        self, now: datetime, after: int | None, limit: int, decide: OverdueDecider
    ) -> OverdueReport:
        """For up to ``limit`` non-retired schedules with id > ``after`` (by id): ask
        ``decide`` (paused schedules are never overdue) and store the answer in
        ``tw_schedule_health`` (overdue_since, overdue_fire); a schedule newly overdue for a
        fire gets one ``overdue`` alert for it. Writes only what changed."""
        ...

    def list_health(self) -> list[ScheduleHealth]:
        """Health of every schedule that has a row, by schedule name."""
        ...

    def list_overdue(self, limit: int) -> list[ScheduleHealth]:
        """Live schedules overdue now (``overdue_since`` set), longest overdue first, at most
        ``limit`` (for the dashboard's overview)."""
        ...

    def claim_alerts(self, now: datetime, lease: timedelta, limit: int) -> list[Alert]:
        """Up to ``limit`` undelivered, not failed alerts with ``next_attempt_at <= now``,
        oldest first: attempts + 1 and ``next_attempt_at = now + lease`` (so another process
        takes them only if this one dies; PostgreSQL skips rows another claim holds)."""
        ...

    def alert_delivered(self, alert_id: int, now: datetime) -> None:
        """Mark an alert delivered (its receiver answered 2xx)."""
        ...

    def alert_attempt_failed(
        self, alert_id: int, now: datetime, error: str, retry_at: datetime | None
    ) -> None:
        """Record a failed delivery: due again at ``retry_at``, or given up (``failed_at``)
        when None."""
        ...

    def list_alerts(self, limit: int = 100) -> list[Alert]:
        """Alerts, newest first."""
        ...

    # -- retention and status ------------------------------------------------------------

    def prune_batch(self, finished_before: datetime, batch: int) -> int:
        """One transaction: delete up to ``batch`` terminal runs finished before the
        instant (oldest ids first) with their events, adding them to ``tw_run_counts`` per
        (schedule, state) so totals survive; also up to ``batch`` alerts created
        before it. Returns the runs deleted."""
        ...

    def run_totals(self, schedule: str | None = None) -> dict[RunState, int]:
        """Run counts by state including runs deleted by pruning (``count_runs`` counts only
        the rows still there)."""
        ...

    def schema_revision(self) -> tuple[str | None, str | None]:
        """(revision the database is at, newest revision this tickwork ships)."""
        ...
