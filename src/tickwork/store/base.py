"""The store interface: every durable operation tickwork performs, in domain terms.

Each method is one transaction. ``now`` is always passed in (stores never read the clock).
SQL lives only in ``tickwork.store``. Both implementations pass ``tests/contract``.
Policies decide (``tickwork.policies``); stores persist decisions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from tickwork.model import ClaimedRun, Outcome, Run, RunEvent, RunState, ScheduleRow, WorkerInfo

__all__ = [
    "BatchFinishingStore",
    "DefinitionChange",
    "EnqueueResult",
    "FinishItem",
    "FireDecision",
    "FirePlanner",
    "ListeningStore",
    "Revision",
    "RevisionStore",
    "RunFilter",
    "ScheduleUpsert",
    "Store",
    "SyncReport",
    "TimekeepingStore",
]


@dataclass(frozen=True, slots=True)
class ScheduleUpsert:
    """One schedule definition to store. ``next_fire_at`` and ``anchor`` are used only when
    the schedule is new or its ``spec`` changed; an unchanged schedule keeps its own."""

    name: str
    spec: dict[str, Any]
    next_fire_at: datetime | None
    anchor: datetime


@dataclass(frozen=True, slots=True)
class SyncReport:
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    retired: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FireDecision:
    """What the scheduler decided for one due schedule (see ``FirePlanner``)."""

    queue: Sequence[tuple[datetime, datetime]] = ()  # (nominal fire, due at) -> queued runs
    miss: Sequence[datetime] = ()  # nominal fires recorded as missed
    skip: Sequence[datetime] = ()  # nominal fires recorded as skipped (schedule paused)
    next_fire_at: datetime | None = None  # the first nominal fire not handled here
    last_fire_at: datetime | None = None  # the last nominal fire handled here
    max_attempts: int = 1
    reason: str | None = None  # kept on the missed/skipped records ("scheduler down"...)


# Called by ``enqueue_due`` inside its transaction for each due schedule, with the row as
# read and ``now``. Must be pure and fast: it runs while the store holds its write lock.
FirePlanner = Callable[[ScheduleRow, datetime], FireDecision]


@dataclass(frozen=True, slots=True)
class EnqueueResult:
    schedules: int = 0  # due schedules handled
    queued: tuple[Run, ...] = ()
    missed: int = 0
    skipped: int = 0
    conflicts: int = 0  # fires that already had a run (another scheduler got there first)
    # When the pass found nothing (more) due and read it: the earliest next fire of the
    # schedules, later than ``now``. None: not read, or no schedule has a next fire.
    idle_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class FinishItem:
    """One attempt's result for ``BatchFinishingStore.finish_many`` (see ``Store.finish``)."""

    run_id: int
    outcome: Outcome
    retry_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RunFilter:
    schedule: str | None = None
    states: frozenset[RunState] = field(default_factory=frozenset)
    since: datetime | None = None  # nominal fire >= since
    until: datetime | None = None  # nominal fire < until
    before_id: int | None = None  # cursor: runs with a smaller id (newest first)
    limit: int = 100


class Store(Protocol):
    """Durable state: schedules, runs, run events and workers."""

    # -- lifecycle -----------------------------------------------------------------------

    def upgrade(self) -> None:
        """Create or migrate the schema to the latest revision (Alembic). Idempotent."""

    def close(self) -> None:
        """Release connections. The store is unusable afterwards."""

    # -- schedules -----------------------------------------------------------------------

    def sync_schedules(
        self, items: Sequence[ScheduleUpsert], source: str, now: datetime
    ) -> SyncReport:
        """Make the stored schedules of ``source`` equal to ``items``.

        New names are inserted; a name whose ``spec`` differs is updated (version + 1,
        un-retired, next fire and anchor taken from the item); schedules of ``source`` that
        are missing from ``items`` are retired (kept with their history, never scheduled).
        A name owned by another source raises ``ScheduleConflictError`` and changes nothing.
        Never touches runs.
        """

    def get_schedule(self, name: str) -> ScheduleRow | None:
        """The schedule called ``name`` (retired included), or None."""

    def list_schedules(self, *, include_retired: bool = False) -> list[ScheduleRow]:
        """All schedules ordered by name."""

    def set_paused(self, name: str, paused: bool, now: datetime) -> ScheduleRow:
        """Pause or resume. Raises ``ScheduleNotFoundError``. Fires while paused are recorded
        ``skipped`` by the scheduler, so nothing disappears."""

    def enqueue_due(
        self, now: datetime, limit: int, plan: FirePlanner, *, fire_limit: int | None = None
    ) -> EnqueueResult:
        """Turn due fires into runs: for up to ``limit`` non-retired schedules with
        ``next_fire_at <= now`` (oldest first), call ``plan`` and persist its decision.
        With ``fire_limit``, the pass stops before the schedule whose fires would take it
        past that many (the first schedule always goes): what is left stays due, for the
        next pass, so a long catch-up is many short transactions, not one long one.

        Runs are inserted with the unique key (schedule, nominal fire): a fire that already
        has a run is left alone and counted in ``conflicts``. The schedule is advanced with a
        conditional update on the ``next_fire_at`` read, so two schedulers never both
        advance it. Records an event per run created.
        """

    def trigger(self, name: str, now: datetime, *, kind: str = "manual") -> Run:
        """A run of ``name`` due now, outside its trigger (nominal fire = ``now``)."""

    def next_wakeup(
        self, now: datetime, *, fires: bool = True, runs: bool = True
    ) -> datetime | None:
        """The earliest instant at which ``enqueue_due`` (``fires``: the smallest
        ``next_fire_at`` of an active schedule) or ``claim`` (``runs``: the smallest
        ``due_at`` of a waiting run) has work; None when neither has any (or neither is
        asked for)."""

    # -- runs ----------------------------------------------------------------------------

    def claim(self, worker: str, now: datetime, lease: timedelta, limit: int) -> list[ClaimedRun]:
        """Lease up to ``limit`` due waiting runs (queued or retrying, ``due_at <= now``),
        oldest due first, applying each schedule's overlap policy in the same transaction
        (``decide_overlap``): started runs become ``running`` with ``lease_owner=worker``,
        ``lease_expires_at=now+lease``, ``attempt+1`` and ``started_at=now``; skipped ones
        are recorded ``skipped``; ``cancel_other`` cancels the schedule's running runs.
        """

    def extend_lease(self, run_id: int, worker: str, now: datetime, lease: timedelta) -> bool:
        """Heartbeat. False when ``worker`` no longer holds the run (reclaimed, cancelled):
        the worker must stop the attempt and drop its result."""

    def finish(
        self,
        run_id: int,
        worker: str,
        now: datetime,
        outcome: Outcome,
        *,
        retry_at: datetime | None = None,
    ) -> bool:
        """Record an attempt's outcome, fenced on (running, ``lease_owner=worker``).

        With ``retry_at`` the run becomes ``retrying`` (due then); otherwise it takes the
        outcome's terminal state. False (and nothing written) when the fence fails.
        """

    def release(self, run_id: int, worker: str, now: datetime) -> bool:
        """Graceful stop: give an unfinished run back (``queued``, due now, attempt - 1).
        Fenced like ``finish``."""

    def reclaim_expired(self, now: datetime, limit: int) -> list[Run]:
        """Runs whose lease expired before ``now`` go back to ``queued`` (due now) when
        attempts remain, else to ``failed``; each with a ``run_lease_expired`` event."""

    def get_run(self, run_id: int) -> Run | None: ...

    def list_runs(self, query: RunFilter) -> list[Run]:
        """Runs matching ``query``, newest (highest id) first."""

    def run_events(self, run_id: int) -> list[RunEvent]:
        """Every transition of a run, oldest first."""

    def count_runs(self, schedule: str | None = None) -> dict[RunState, int]:
        """Run counts by state (all schedules, or one)."""

    def prune(self, finished_before: datetime, batch: int = 1000) -> int:
        """Delete terminal runs finished before the instant (and their events), in batches
        of ``batch`` per transaction. Never deletes a waiting or running run."""

    # -- workers -------------------------------------------------------------------------

    def register_worker(self, info: WorkerInfo) -> None:
        """Insert or refresh a process row (id, host, pid, version, roles, heartbeat)."""

    def heartbeat_worker(self, worker: str, now: datetime) -> None: ...

    def deregister_worker(self, worker: str) -> None: ...

    def list_workers(self) -> list[WorkerInfo]: ...


# -- capabilities some stores have (the engine uses them when present) ---------------------


@runtime_checkable
class ListeningStore(Protocol):
    """A store that can say when runs became claimable (PostgreSQL: LISTEN/NOTIFY)."""

    def listen(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` from a background thread whenever any process made runs
        claimable (and after reconnecting, when notices may have been missed). Never
        raises into the caller; polling stays the fallback. Returns a function that stops
        listening."""
        ...


@runtime_checkable
class BatchFinishingStore(Protocol):
    """A store that records many attempts' results in one transaction."""

    def finish_many(self, worker: str, now: datetime, items: Sequence[FinishItem]) -> list[bool]:
        """``Store.finish`` for each item, all in one transaction, each fenced on its own
        lease: for each item whether it was written (False: that fence failed, nothing
        written for it; the others are written). Bad input raises before anything is
        written."""
        ...

    def finish_and_claim(
        self,
        worker: str,
        now: datetime,
        items: Sequence[FinishItem],
        lease: timedelta,
        limit: int,
    ) -> tuple[list[bool], list[ClaimedRun]]:
        """``finish_many(worker, now, items)`` then ``Store.claim(worker, now, lease,
        limit)``, in one transaction (the worker's step: the results of the runs that
        ended, the runs for the slots they freed). Returns both answers. Bad input raises
        before anything is written; a failure writes neither part."""
        ...


@runtime_checkable
class TimekeepingStore(Protocol):
    """A store whose database has a clock all hosts share (PostgreSQL)."""

    def database_now(self) -> datetime:
        """The database server's current instant, aware UTC (one round trip). Raises
        ``StoreUnavailableError`` when the database cannot be reached."""
        ...


# -- revisions: schedule changes recorded as numbered revisions ----------------------------


@dataclass(frozen=True, slots=True)
class DefinitionChange:
    """One schedule to set in a revision: ``spec`` None retires it. ``next_fire_at`` and
    ``anchor`` are written with a new or changed spec (the facade computes them)."""

    name: str
    source: str  # the owner: config, code or api
    spec: dict[str, Any] | None
    next_fire_at: datetime | None = None
    anchor: datetime | None = None


@dataclass(frozen=True, slots=True)
class Revision:
    """A recorded change to the set of schedules. ``before``/``after`` hold the definitions
    (``{"spec": ..., "source": ...}``) of the schedules it touched, by name; a name missing
    from one side did not exist (or was retired) on that side."""

    number: int
    applied_at: datetime
    applied_by: str
    source: str  # sync, python, apply, rollback, api
    before: dict[str, dict[str, Any]]
    after: dict[str, dict[str, Any]]
    summary: dict[str, list[str]]  # {"added": [...], "changed": [...], "retired": [...]}


@runtime_checkable
class RevisionStore(Protocol):
    """A store that records every change to the schedule set as a numbered revision."""

    def apply_revision(
        self,
        changes: Sequence[DefinitionChange],
        *,
        applied_by: str,
        source: str,
        now: datetime,
        expect_revision: int | None = None,
    ) -> Revision | None:
        """Apply ``changes`` and record them as revision latest + 1, in one transaction.

        Each change is compared with its row as locked: one already in effect (same spec,
        not retired; or retiring what is retired or absent) is left out, and when none
        remains nothing is written and None is returned. With ``expect_revision`` the
        latest revision must be that number (0: none yet), checked inside the write
        transaction, so of two applies made against the same revision exactly one wins;
        the other raises ``RevisionConflictError`` and changes nothing. A name owned by
        another source raises ``ScheduleConflictError`` and changes nothing. Never
        touches runs.
        """
        ...

    def latest_revision(self) -> int:
        """The number of the latest revision, 0 when none was recorded."""
        ...

    def get_revision(self, number: int) -> Revision | None: ...

    def list_revisions(
        self, *, after: int = 0, before: int | None = None, limit: int = 100
    ) -> list[Revision]:
        """Revisions with ``after < number < before``, newest first, at most ``limit``."""
        ...
