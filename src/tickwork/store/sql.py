"""The SQL both stores share: Core statements and the domain logic of every ``Store`` method.

``SQLStore`` implements ``tickwork.store.base.Store`` once. What differs between databases is
a handful of named hooks that a small subclass provides (``SQLiteStore`` now, a PostgreSQL
store next), never ``if dialect == ...`` in here:

- ``_dialect_insert``: the dialect's ``INSERT`` with ``ON CONFLICT`` (insert-ignore, upsert);
- ``_lock``: how a transaction keeps other writers off the rows it read (PostgreSQL:
  ``FOR NO KEY UPDATE [SKIP LOCKED]``; SQLite: nothing, ``BEGIN IMMEDIATE`` already holds
  the lock);
- ``_claim_page``: which due schedules one claim decides for (PostgreSQL: those whose
  advisory lock it gets without waiting, so claimers split the schedules and a scheduler's
  lock on a schedule row does not stall claims; SQLite: all of them, a page at a time);
- ``_write_options``, ``_read_options``: execution options of write and read transactions
  (SQLite: ``BEGIN IMMEDIATE`` for writes; PostgreSQL: reads in autocommit);
- ``_write_turn``: waits for this process's turn to write (SQLite: one writer per file);
- ``_unavailable_reason``: which driver errors mean "the database is unavailable, retry";
- ``_retry_reason``: which driver errors mean "this transaction was rolled back, run it
  again now" (PostgreSQL: deadlock, serialization failure, a connection lost mid-statement);
- ``_take_turn``: makes transactions of one kind take turns where row locks cannot
  (PostgreSQL: an advisory lock, for ``upgrade`` and ``sync_schedules`` inserting rows that
  do not exist yet; SQLite: nothing, ``BEGIN IMMEDIATE`` already does);
- ``_announce_runs``: tells idle workers that runs became claimable, on commit
  (PostgreSQL: ``NOTIFY``; SQLite: nothing, workers poll).

Every public method is one transaction (``prune``: one per batch) and never reads the clock.
A transaction the database rolled back for a reason a new attempt clears is run again, whole,
a few times (``_retried``): nothing of the rolled-back attempt was written.
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
import random
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Concatenate, NamedTuple, ParamSpec, TypeVar

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Integer,
    Select,
    Table,
    and_,
    bindparam,
    delete,
    func,
    literal_column,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.engine import Connection, Engine, RowMapping
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.sql.dml import Insert

from tickwork import events
from tickwork.errors import (
    InvalidSpecError,
    ScheduleConflictError,
    ScheduleNotFoundError,
    StoreUnavailableError,
)
from tickwork.model import (
    TERMINAL_STATES,
    WAITING_STATES,
    ClaimedRun,
    OverlapPolicy,
    Run,
    RunEvent,
    RunState,
    ScheduleRow,
    WorkerInfo,
)
from tickwork.policies.overlap import OverlapAction, decide_overlap
from tickwork.store import migrations
from tickwork.store.base import (
    EnqueueResult,
    FireDecision,
    FirePlanner,
    RunFilter,
    ScheduleUpsert,
    SyncReport,
)
from tickwork.store.schema import UTCDateTime, run_events, runs, schedules, workers
from tickwork.store.sql_metrics import SQLMetricsQueries
from tickwork.store.sql_ops import OpsSQLMixin
from tickwork.store.sql_revisions import SQLRevisions

__all__ = ["SQLStore"]

log = logging.getLogger("tickwork.store")

SOURCES = ("config", "code", "api")
DEFAULT_OVERLAP = OverlapPolicy.skip
# The overlap policies under which a fire can be recorded skipped, as decide_overlap says.
SKIPPING_POLICIES = frozenset(
    policy.value
    for policy in OverlapPolicy
    if any(OverlapAction.skip in decide_overlap(policy, busy, 3) for busy in (0, 1))
)
OUTCOME_EVENTS: Mapping[RunState, str] = {
    RunState.succeeded: events.RUN_SUCCEEDED,
    RunState.failed: events.RUN_FAILED,
    RunState.timed_out: events.RUN_TIMED_OUT,
    RunState.cancelled: events.RUN_CANCELLED,
    RunState.shadowed: events.RUN_SHADOWED,  # shadow mode: recorded, not executed
}
RECORD_EVENTS: Mapping[RunState, str] = {
    RunState.missed: events.RUN_MISSED,
    RunState.skipped: events.RUN_SKIPPED,
}
OVERLAP_SKIPPED = "overlap: another run of this schedule is running or starting"
OVERLAP_CANCELLED = "cancelled by a newer fire (overlap cancel_other)"
LEASE_LOST = "lease expired: worker lost"
ATTEMPT_ERROR_LIMIT = 4000  # characters of an attempt's error kept in its event
# A manual trigger's nominal fire is ``now``; when that instant already has a run of the
# schedule (a fire at the same instant, a second trigger), it moves on by a microsecond.
TRIGGER_NUDGE = timedelta(microseconds=1)
TRIGGER_TRIES = 1000
# A transaction rolled back by a deadlock or a lost connection is run again this many times
# in all, after a jittered backoff starting at RETRY_BACKOFF seconds and doubling.
RETRY_TRIES = 5
CLAIM_PAGE = 64  # due schedules a claim reads at once, at least
RETRY_BACKOFF = 0.02


class _TryAgain(Exception):
    """The database rolled the transaction back; running it again can succeed."""

    def __init__(self, action: str, reason: str) -> None:
        super().__init__(f"could not {action}: {reason}")
        self.action, self.reason = action, reason


S = TypeVar("S", bound="SQLStore")
P = ParamSpec("P")
R = TypeVar("R")


def _retried(method: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R]:
    """Run a store method again when its transaction hit ``_TryAgain``, up to RETRY_TRIES
    times in all; then ``StoreUnavailableError``. Each method is one transaction that the
    database rolled back, so a new attempt starts from what is committed."""

    @functools.wraps(method)
    def attempt(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        for tries in itertools.count(1):
            try:
                return method(self, *args, **kwargs)
            except _TryAgain as again:
                if tries >= RETRY_TRIES:
                    raise StoreUnavailableError(
                        f"{self._label}: could not {again.action}: {again.reason} "
                        f"({tries} attempts); retrying later can help"
                    ) from again.__cause__
                delay = RETRY_BACKOFF * 2 ** (tries - 1) * random.uniform(0.5, 1.0)
                log.debug(
                    "transaction rolled back (%s); trying again in %.3fs",
                    again.reason,
                    delay,
                    extra={"action": events.STORE_RETRIED, "attempt": tries},
                )
                time.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    return attempt


class SQLStore(SQLMetricsQueries, SQLRevisions, OpsSQLMixin, ABC):
    """``Store`` over SQLAlchemy Core; subclasses supply the engine and the dialect hooks."""

    # Whether enqueue_due and claim first look (one read) for due work before their write
    # transaction: where a write transaction takes a database-wide lock (SQLite), finding
    # nothing must not take it.
    probe_before_write = True

    def __init__(self, engine: Engine, *, label: str) -> None:
        self._engine = engine
        self._writer = engine.execution_options(**self._write_options())
        self._reader = engine.execution_options(**self._read_options())
        self._claim_statements: dict[tuple[bool, bool], Select[Any]] = {}
        self._label = label  # names the database in error messages

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._label}>"

    # -- dialect hooks -------------------------------------------------------------------

    @abstractmethod
    def _dialect_insert(self, table: Table) -> Any:
        """The dialect's ``insert(table)``, with ``on_conflict_do_nothing``/``_do_update``."""

    @abstractmethod
    def _lock(self, stmt: Select[Any], *, skip_locked: bool) -> Select[Any]:
        """``stmt`` made to lock the rows it reads until the transaction ends. With
        ``skip_locked`` rows another transaction holds are left out instead of waited for."""

    @abstractmethod
    def _unavailable_reason(self, exc: DBAPIError) -> str | None:
        """Why the database is unavailable (locked, unreachable, I/O), or None when ``exc``
        is some other error (a bug or a constraint saying no)."""

    def _write_options(self) -> dict[str, Any]:
        """Execution options of write transactions."""
        return {}

    def _read_options(self) -> dict[str, Any]:
        """Execution options of read transactions."""
        return {}

    def _write_turn(self, action: str) -> AbstractContextManager[None]:
        """Held around each write transaction; a database with row locks needs nothing."""
        return nullcontext()

    def _retry_reason(self, exc: DBAPIError, *, at_commit: bool) -> str | None:
        """Why running the transaction again can succeed (its work was rolled back), or
        None. ``at_commit``: ``exc`` came from COMMIT, whose outcome may be unknown."""
        return None

    def _take_turn(self, conn: Connection, topic: str) -> None:
        """Wait, inside the transaction, until no other transaction holds the turn for
        ``topic``; the turn is released when the transaction ends."""
        return None

    def _announce_runs(self, conn: Connection) -> None:
        """Runs became claimable in this transaction: tell idle workers when it commits."""
        return None

    # -- transactions --------------------------------------------------------------------

    @contextmanager
    def _transaction(self, action: str, *, write: bool) -> Iterator[Connection]:
        """One transaction; commits when the block ends, rolls back when it raises.

        Driver errors that mean "unavailable" become ``StoreUnavailableError`` naming
        ``action``; those after which the transaction can simply run again become
        ``_TryAgain`` (for ``_retried``); a value a column type refused (a naive datetime)
        is re-raised as is.
        """
        engine = self._writer if write else self._reader
        at_commit = False
        try:
            with (
                self._write_turn(action) if write else nullcontext(),
                engine.connect() as conn,
                conn.begin(),
            ):
                yield conn
                at_commit = True  # the block is done; leaving the ``with`` commits
        except DBAPIError as exc:
            again = self._retry_reason(exc, at_commit=at_commit)
            if again is not None:
                raise _TryAgain(action, again) from exc
            reason = self._unavailable_reason(exc)
            if reason is None:
                raise
            raise StoreUnavailableError(
                f"{self._label}: could not {action}: {reason}; retrying later can help"
            ) from exc
        except StatementError as exc:
            if isinstance(exc.orig, ValueError):
                raise exc.orig from exc
            raise
        except PoolTimeoutError as exc:
            raise StoreUnavailableError(
                f"{self._label}: could not {action}: every connection of this process's pool "
                "stayed busy past the pool timeout; retrying later can help"
            ) from exc

    # -- lifecycle -----------------------------------------------------------------------

    @_retried
    def upgrade(self) -> None:
        """Migrate the schema to the newest revision in one write transaction (idempotent).
        A schema already there is only read: a command opening the store beside a busy
        scheduler does not queue for SQLite's write lock to find nothing to do."""
        with self._transaction("read the schema revision", write=False) as conn:
            if migrations.current_revision(conn) == migrations.head_revision():
                return
        with self._transaction("migrate the schema", write=True) as conn:
            self._take_turn(conn, "upgrade")
            migrations.upgrade(conn)

    def close(self) -> None:
        self._engine.dispose()

    # -- schedules -----------------------------------------------------------------------

    @_retried
    def sync_schedules(
        self, items: Sequence[ScheduleUpsert], source: str, now: datetime
    ) -> SyncReport:
        """Make the stored schedules of ``source`` equal to ``items`` (see ``Store``).

        Specs are compared by JSON value. A retired schedule that comes back is reported
        ``changed`` and takes the item's next fire and anchor, like a changed spec. Bad input
        (unknown source, duplicate names, a spec that is not JSON or whose ``overlap`` or
        ``retries`` the store cannot act on, naive instants) raises before anything is written.
        """
        _aware(now, "now")
        if source not in SOURCES:
            raise InvalidSpecError("source", source, "one of " + ", ".join(SOURCES))
        wanted: dict[str, tuple[ScheduleUpsert, str]] = {}
        for item in items:
            if item.name in wanted:
                raise InvalidSpecError(
                    "name", item.name, "each schedule name once per source", source=source
                )
            _aware(item.anchor, "anchor")
            if item.next_fire_at is not None:
                _aware(item.next_fire_at, "next_fire_at")
            wanted[item.name] = (item, _check_spec(item.name, item.spec))
        added: list[str] = []
        changed: list[str] = []
        unchanged: list[str] = []
        with self._transaction("sync schedules", write=True) as conn:
            self._take_turn(conn, "sync_schedules")  # two syncs may insert the same name
            stmt = select(schedules).where(
                or_(schedules.c.name.in_(list(wanted)), schedules.c.source == source)
            )
            found = conn.execute(self._lock(stmt, skip_locked=False)).mappings()
            stored = {r["name"]: r for r in found}
            for name, owned in stored.items():
                if name in wanted and owned["source"] != source:
                    raise ScheduleConflictError(name, owned["source"], source)
            for name, (item, canonical) in wanted.items():
                row = stored.get(name)
                if row is None:
                    conn.execute(
                        schedules.insert().values(
                            name=name,
                            spec=item.spec,
                            source=source,
                            paused=False,
                            retired=False,
                            next_fire_at=item.next_fire_at,
                            last_fire_at=None,
                            anchor=item.anchor,
                            created_at=now,
                            updated_at=now,
                            version=1,
                        )
                    )
                    added.append(name)
                elif row["retired"] or _canonical(row["spec"]) != canonical:
                    conn.execute(
                        update(schedules)
                        .where(schedules.c.id == row["id"])
                        .values(
                            spec=item.spec,
                            retired=False,
                            next_fire_at=item.next_fire_at,
                            anchor=item.anchor,
                            updated_at=now,
                            version=schedules.c.version + 1,
                        )
                    )
                    changed.append(name)
                else:
                    unchanged.append(name)
            gone = sorted(n for n, r in stored.items() if n not in wanted and not r["retired"])
            if gone:
                conn.execute(
                    update(schedules)
                    .where(schedules.c.source == source, schedules.c.name.in_(gone))
                    .values(retired=True, updated_at=now, version=schedules.c.version + 1)
                )
        return SyncReport(
            added=tuple(added),
            changed=tuple(changed),
            retired=tuple(gone),
            unchanged=tuple(unchanged),
        )

    @_retried
    def get_schedule(self, name: str) -> ScheduleRow | None:
        with self._transaction("read a schedule", write=False) as conn:
            row = conn.execute(select(schedules).where(schedules.c.name == name)).mappings()
            found = row.one_or_none()
        return None if found is None else _schedule(found)

    @_retried
    def list_schedules(self, *, include_retired: bool = False) -> list[ScheduleRow]:
        stmt = select(schedules).order_by(schedules.c.name)
        if not include_retired:
            stmt = stmt.where(schedules.c.retired.is_(False))
        with self._transaction("list schedules", write=False) as conn:
            return [_schedule(r) for r in conn.execute(stmt).mappings()]

    @_retried
    def set_paused(self, name: str, paused: bool, now: datetime) -> ScheduleRow:
        """Pause or resume ``name``; the version goes up only when ``paused`` changes.
        Raises ``ScheduleNotFoundError`` (nothing written) for an unknown name."""
        _aware(now, "now")
        with self._transaction("pause or resume a schedule", write=True) as conn:
            conn.execute(
                update(schedules)
                .where(schedules.c.name == name, schedules.c.paused != paused)
                .values(paused=paused, updated_at=now, version=schedules.c.version + 1)
            )
            row = conn.execute(select(schedules).where(schedules.c.name == name)).mappings()
            found = row.one_or_none()
            if found is None:
                raise ScheduleNotFoundError(name)
        return _schedule(found)

    @_retried
    def enqueue_due(
        self, now: datetime, limit: int, plan: FirePlanner, *, fire_limit: int | None = None
    ) -> EnqueueResult:
        """Persist ``plan``'s decision for each due schedule (see ``Store``).

        Paused schedules are due too: the planner records their fires as skipped. The
        schedule is advanced first, with ``WHERE next_fire_at = <value read>``; when that
        matches no row another scheduler handled these fires, so this one writes nothing for
        the schedule and counts its fires as conflicts.
        """
        _aware(now, "now")
        if fire_limit is not None and fire_limit < 1:
            raise InvalidSpecError("fire_limit", fire_limit, "a whole number of fires from 1")
        if limit <= 0:
            return EnqueueResult()
        queued: list[Run] = []
        missed = skipped = conflicts = 0
        # Skipping locked rows: fires another scheduler is enqueueing right now are not due
        # for this one (PostgreSQL; SQLite has one writer anyway).
        if self.probe_before_write:
            first = self._first_fire()
            if first is None or first > now:  # no write transaction (SQLite: no write lock)
                return EnqueueResult(idle_until=first)
        with self._transaction("enqueue due fires", write=True) as conn:
            due = (
                select(schedules)
                .where(*_is_due(now))
                .order_by(schedules.c.next_fire_at, schedules.c.id)
                .limit(limit)
            )
            rows = [
                _schedule(r) for r in conn.execute(self._lock(due, skip_locked=True)).mappings()
            ]
            if not rows:  # nothing due (or due and locked by another scheduler): until when?
                first = conn.execute(_FIRST_FIRE).scalar()
                idle = first if first is not None and first > now else None
                return EnqueueResult(idle_until=idle)
            log = _EventLog(now)
            fired: list[tuple[dict[str, Any], FireDecision, RunState]] = []
            decided = _within(((row, plan(row, now)) for row in rows), fire_limit)
            # The rows are locked (SQLite: the write lock; PostgreSQL: FOR NO KEY UPDATE),
            # so each conditional advance matches; one that did not means another writer
            # got in anyway, and the whole transaction is run again rather than guessed at.
            if self._advance_many(conn, decided) != len(decided):
                raise _TryAgain("enqueue due fires", "a due schedule moved while it was locked")
            for row, decision in decided:
                for nominal, due_at, state in _fires_in_order(decision):
                    values = _run_values(row, nominal, due_at, state, decision, now)
                    fired.append((values, decision, state))
            created = self._insert_runs(conn, [values for values, _, _ in fired])
            for values, decision, state in fired:
                run_id = created.get((values["schedule_id"], values["nominal_fire"]))
                if run_id is None:
                    conflicts += 1
                elif state is RunState.queued:
                    queued.append(_new_run(run_id, values, state))
                    log.add(run_id, events.RUN_ENQUEUED, state, 0)
                else:
                    detail = {"reason": decision.reason} if decision.reason else None
                    log.add(run_id, RECORD_EVENTS[state], state, 0, detail)
                    missed += state is RunState.missed
                    skipped += state is RunState.skipped
            log.write(conn)
            if queued:
                self._announce_runs(conn)
        return EnqueueResult(
            schedules=len(decided),
            queued=tuple(queued),
            missed=missed,
            skipped=skipped,
            conflicts=conflicts,
        )

    def _advance(self, conn: Connection, row: ScheduleRow, decision: FireDecision) -> bool:
        """Move ``row`` on to ``decision.next_fire_at``, only if nobody moved it since it was
        read (DESIGN.md, engine sketch: the conditional update). True when it moved."""
        return self._advance_many(conn, [(row, decision)]) == 1

    def _advance_many(
        self, conn: Connection, decided: Sequence[tuple[ScheduleRow, FireDecision]]
    ) -> int:
        """``_advance`` for many due rows in one prebuilt statement (executemany): how
        many moved."""
        if not decided:
            return 0
        params = []
        for row, decision in decided:
            if decision.next_fire_at is not None:
                _aware(decision.next_fire_at, "FireDecision.next_fire_at")
            params.append(
                {
                    "row_id": row.id,
                    "read": row.next_fire_at,
                    "next": decision.next_fire_at,
                    "last": decision.last_fire_at,
                }
            )
        return self._advance_rows(conn, params)

    def _advance_rows(self, conn: Connection, params: list[dict[str, Any]]) -> int:
        """Run the conditional advance (``_ADVANCE``'s parameters) for each of ``params``:
        how many rows moved."""
        return int(conn.execute(_ADVANCE, params).rowcount)

    def _insert_runs(
        self, conn: Connection, rows: Sequence[dict[str, Any]]
    ) -> dict[tuple[int, datetime], int]:
        """Insert runs, leaving alone every (schedule, nominal fire)
        that already has one (promise 1: the unique key decides). The new ids by (schedule
        id, nominal fire in UTC); a fire missing there had a run already."""
        created: dict[tuple[int, datetime], int] = {}
        if not rows:
            return created
        stmt = self._dialect_insert(runs).on_conflict_do_nothing(
            index_elements=["schedule_id", "nominal_fire"]
        )
        assert isinstance(stmt, Insert)
        # Many parameter sets, one compiled statement: SQLAlchemy batches them into
        # multi-row INSERTs ("insertmanyvalues") and gathers what RETURNING gives back.
        returned = stmt.returning(runs.c.id, runs.c.schedule_id, runs.c.nominal_fire)
        for run_id, schedule_id, nominal in conn.execute(returned, list(rows)):
            created[(int(schedule_id), nominal)] = int(run_id)
        return created

    def _insert_ignoring_conflict(self, conn: Connection, **values: Any) -> int | None:
        """Insert a run unless its (schedule, nominal fire) already has one: the new id, or
        None on conflict (promise 1: the unique key decides)."""
        stmt = (
            self._dialect_insert(runs)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["schedule_id", "nominal_fire"])
        )
        assert isinstance(stmt, Insert)
        # RETURNING gives no row on conflict (rowcount is not reliable with it on psycopg).
        run_id = conn.execute(stmt.returning(runs.c.id)).scalar_one_or_none()
        return None if run_id is None else int(run_id)

    @_retried
    def trigger(self, name: str, now: datetime, *, kind: str = "manual") -> Run:
        """A queued run of ``name`` due now (nominal fire ``now``, nudged by microseconds when
        that instant already has a run), ``max_attempts`` = spec ``retries`` + 1. Raises
        ``ScheduleNotFoundError`` (nothing written) for an unknown or retired schedule."""
        _aware(now, "now")
        if not 0 < len(kind) <= 20:
            raise InvalidSpecError("kind", kind, "a run kind of 1 to 20 characters")
        with self._transaction("trigger a run", write=True) as conn:
            return self._trigger(conn, name, now, kind)

    def _trigger(self, conn: Connection, name: str, now: datetime, kind: str) -> Run:
        """``trigger`` inside the caller's transaction (``trigger_idempotent`` shares it)."""
        found = (
            conn.execute(
                select(schedules).where(schedules.c.name == name, schedules.c.retired.is_(False))
            )
            .mappings()
            .one_or_none()
        )
        if found is None:
            raise ScheduleNotFoundError(name)
        row = _schedule(found)
        run_id = None
        for nudge in range(TRIGGER_TRIES):
            run_id = self._insert_ignoring_conflict(
                conn,
                schedule_id=row.id,
                schedule=row.name,
                nominal_fire=now + nudge * TRIGGER_NUDGE,
                due_at=now,
                state=RunState.queued.value,
                attempt=0,
                max_attempts=_max_attempts(row.spec),
                kind=kind,
                created_at=now,
            )
            if run_id is not None:
                break
        if run_id is None:  # a thousand runs of one schedule within a millisecond
            raise StoreUnavailableError(f"{self._label}: no free instant to trigger {name!r}")
        log = _EventLog(now)
        log.add(run_id, events.RUN_TRIGGERED, RunState.queued, 0, {"kind": kind})
        log.write(conn)
        self._announce_runs(conn)
        return self._runs_by_id(conn, [run_id])[0]

    @_retried
    def next_wakeup(
        self, now: datetime, *, fires: bool = True, runs: bool = True
    ) -> datetime | None:
        """The smallest ``next_fire_at`` of a non-retired schedule (paused ones included:
        their fires are recorded; with ``fires``) and ``due_at`` of a queued or retrying run
        (with ``runs``). It can lie in the past: a due run that waits behind a running one
        keeps it there."""
        _aware(now, "now")
        asked = [stmt for stmt, wanted in ((_FIRST_FIRE, fires), (_FIRST_DUE, runs)) if wanted]
        if not asked:
            return None
        with self._transaction("compute the next wake-up", write=False) as conn:
            found = conn.execute(select(*(stmt.scalar_subquery() for stmt in asked))).one()
        candidates = [t for t in found if t is not None]
        return min(candidates) if candidates else None

    # -- runs: claim ---------------------------------------------------------------------

    @_retried
    def claim(self, worker: str, now: datetime, lease: timedelta, limit: int) -> list[ClaimedRun]:
        """Lease up to ``limit`` due waiting runs, applying overlap policies (see ``Store``).

        Schedules are visited in the order of their oldest due run; the policy is the spec's
        ``overlap`` (default ``skip``). A due retrying run continues its run: it starts unless
        the schedule has a running run and the policy is not ``allow`` (then it waits). New
        queued fires then go through ``decide_overlap`` with ``busy`` = the schedule's running
        and retrying runs (due or not: they are runs still going). A ``cancel_others``
        cancels all of those, retrying ones included (they would otherwise run after the
        newer fire), then starts the newest fire. Stops once ``limit`` runs started. With
        ``limit=0`` nothing starts but skip decisions are still taken, so a fire that comes
        due while its schedule runs is skipped on time even when every slot is busy.
        """
        _aware(now, "now")
        _positive(lease, "lease")
        limit = max(limit, 0)
        # With no room only policies that can skip have anything to decide.
        waiting = _ANY_DUE_RUN if limit > 0 else _ANY_DUE_SKIPPABLE
        if self.probe_before_write and not self._exists(waiting, now, "look for due runs"):
            return []  # no write transaction (SQLite: no write lock) for nothing
        with self._transaction("claim runs", write=True) as conn:
            return self._claim_in(conn, worker, now, lease, limit)

    def _claim_in(
        self, conn: Connection, worker: str, now: datetime, lease: timedelta, limit: int
    ) -> list[ClaimedRun]:
        """``claim``'s work inside the caller's write transaction."""
        claim = _Claim(worker=worker, now=now, lease_expires_at=now + lease, room=limit)
        seen: set[int] = set()
        repeated: set[int] = set()  # seen schedules with more than one due run
        cursor: tuple[datetime, int] | None = None
        while True:
            size = _page_size(claim.room)
            page = self._claim_statement(skip_only=limit == 0, paged=cursor is not None)
            params: dict[str, Any] = {"now": now, "size": size}
            if cursor is not None:
                params |= {"after_due": cursor[0], "after_key": cursor[1]}
                if limit > 0:
                    params["seen"] = sorted(repeated)
            groups = conn.execute(page, params).all()
            if groups:
                cursor = (groups[-1].first_due, groups[-1].key)
            ids: list[int] = []
            for sid, *_ in groups:  # a schedule's later due runs follow its first
                if sid not in seen:
                    seen.add(sid)
                    ids.append(int(sid))
                else:  # several due runs: later pages leave the schedule out
                    repeated.add(sid)
            for schedule_id, spec, live in self._claim_inputs(conn, ids, now):
                self._claim_schedule(conn, claim, schedule_id, spec, live)
                if claim.room == 0 and limit > 0:
                    break
            if len(groups) < size or (claim.room == 0 and limit > 0):
                break
        start, logs_claims = self._start_runs()
        claim.flush(conn, start, logs_claims=logs_claims)
        claim.log.write(conn)
        return [ClaimedRun(run=run, spec=claim.specs[run.schedule_id]) for run in claim.started]

    def _claim_page(self, groups: Select[Any], size: int | BindParameter[int]) -> Select[Any]:
        """One page of ``groups`` (due schedules in claim order), ``size`` rows at most: a
        page with fewer rows was the last."""
        return groups.limit(size)

    def _start_runs(self) -> tuple[Any, bool]:
        """The statement that starts a claim's runs (bound: ``ids``, ``worker``,
        ``expires``, ``expires_text``, ``now``; returns the started rows), and whether it
        also inserts their ``run_claimed`` events."""
        return _START_RUNS, False

    def _claim_statement(self, *, skip_only: bool, paged: bool) -> Select[Any]:
        """The page statement of a claim, built once per shape (``now``, ``size`` and,
        when ``paged``, the keyset ``after_due``/``after_key`` and, for a claim that may
        start runs, ``seen``: the decided schedules that showed more than one due run)."""
        key = (skip_only, paged)
        stmt = self._claim_statements.get(key)
        if stmt is None:
            after = (_AFTER_DUE, _AFTER_KEY) if paged else None
            due = self._due_schedules(_NOW, after, may_skip_only=skip_only)
            stmt = self._claim_statements[key] = self._claim_page(due, _SIZE)
        return stmt

    def _due_schedules(
        self,
        now: datetime | BindParameter[datetime],
        after: tuple[Any, Any] | None,
        *,
        may_skip_only: bool = False,
    ) -> Select[Any]:
        return _due_schedules(now, after, may_skip_only=may_skip_only)

    def _claim_inputs(
        self, conn: Connection, ids: Sequence[int], now: datetime
    ) -> list[tuple[int, dict[str, Any], list[_Live]]]:
        """For each schedule of ``ids`` (in that order) that has live runs (running,
        retrying, due queued; by due time): its id, its spec and those runs, in one
        statement per page, reading only the columns the overlap decision needs."""
        if not ids:
            return []
        specs: dict[int, dict[str, Any]] = {}
        live: dict[int, list[_Live]] = {}
        for chunk in _chunks(ids):
            rows = conn.execute(_LIVE_RUNS, {"ids": list(chunk), "now": now})
            for run_id, sid, state, due_at, attempt, spec in rows:
                specs.setdefault(sid, spec)
                live.setdefault(sid, []).append(_Live(run_id, RunState(state), due_at, attempt))
        return [(i, specs[i], live[i]) for i in ids if i in live]

    def _claim_schedule(
        self,
        conn: Connection,
        claim: _Claim,
        schedule_id: int,
        spec: dict[str, Any],
        live: list[_Live],
    ) -> None:
        """Apply one schedule's overlap policy to its ``live`` runs (see ``claim``)."""
        policy = _overlap(spec)
        now = claim.now
        running: list[_Live] = []
        continuations: list[_Live] = []  # due retrying runs: attempts of runs already begun
        backoff: list[_Live] = []  # retrying runs not due yet: the schedule is busy with them
        fresh: list[_Live] = []  # due queued runs: new fires (or runs given back)
        for run in live:
            if run.state is RunState.running:
                running.append(run)
            elif run.state is RunState.queued:
                fresh.append(run)
            elif run.due_at <= now:
                continuations.append(run)
            else:
                backoff.append(run)

        resume: list[_Live] = []
        doomed: list[_Live] = []
        for run in continuations:
            if policy is OverlapPolicy.allow or len(running) + len(resume) == 0:
                resume.append(run)
        busy = len(running) + len(continuations) + len(backoff)
        actions = decide_overlap(policy, busy, len(fresh))
        if OverlapAction.cancel_others in actions:
            # The newest fire wins: everything unfinished before it is cancelled (running,
            # and retrying runs, which would otherwise run after it), rather than started
            # here only to be cancelled in the same transaction.
            doomed, resume = running + continuations + backoff, []

        claim.specs[schedule_id] = spec
        for run in resume:
            if not claim.start(conn, run):
                break  # no room: it waits; the skip decisions below still hold
        for run, action in zip(fresh, actions, strict=True):
            if action is OverlapAction.skip:
                claim.end(run, RunState.skipped, events.RUN_SKIPPED, OVERLAP_SKIPPED)
            elif action is OverlapAction.start:
                claim.start(conn, run)  # without room it stays queued (waits for a slot)
            elif action is OverlapAction.cancel_others:
                if claim.room == 0:
                    return
                for other in doomed:
                    claim.end(other, RunState.cancelled, events.RUN_CANCELLED, OVERLAP_CANCELLED)
                claim.start(conn, run)

    # -- runs: a worker's writes, fenced -------------------------------------------------

    @_retried
    def extend_lease(self, run_id: int, worker: str, now: datetime, lease: timedelta) -> bool:
        """Push the lease of a run ``worker`` holds to ``now + lease``. False (nothing
        written) when the fence fails. Not a transition, so no event."""
        _aware(now, "now")
        _positive(lease, "lease")
        with self._transaction("extend a lease", write=True) as conn:
            result = conn.execute(
                update(runs).where(*_held(run_id, worker)).values(lease_expires_at=now + lease)
            )
            return bool(result.rowcount == 1)

    @_retried
    def release(self, run_id: int, worker: str, now: datetime) -> bool:
        """Give back an unfinished run: ``queued``, due now, attempt - 1, lease cleared,
        event ``run_released``. Fenced like ``finish``."""
        _aware(now, "now")
        with self._transaction("release a run", write=True) as conn:
            attempt = conn.execute(
                update(runs)
                .where(*_held(run_id, worker))
                .values(
                    state=RunState.queued.value,
                    due_at=now,
                    attempt=runs.c.attempt - 1,
                    lease_owner=None,
                    lease_expires_at=None,
                    started_at=None,
                )
                .returning(runs.c.attempt)
            ).scalar_one_or_none()
            if attempt is None:
                return False
            log = _EventLog(now)
            log.add(run_id, events.RUN_RELEASED, RunState.queued, attempt, {"worker": worker})
            log.write(conn)
            self._announce_runs(conn)
        return True

    @_retried
    def reclaim_expired(self, now: datetime, limit: int) -> list[Run]:
        """Running runs whose lease expired before ``now`` (oldest expiry first, up to
        ``limit``): back to ``queued`` due now when attempts remain, else ``failed`` with
        ``finished_at=now`` and error "lease expired: worker lost"; lease cleared; event
        ``run_lease_expired``. The attempt count is kept: the next claim counts a new one."""
        _aware(now, "now")
        if limit <= 0:
            return []
        with self._transaction("reclaim expired leases", write=True) as conn:
            stmt = (
                select(runs)
                .where(runs.c.state == RunState.running.value, runs.c.lease_expires_at < now)
                .order_by(runs.c.lease_expires_at, runs.c.id)
                .limit(limit)
            )
            expired = [_run(r) for r in conn.execute(self._lock(stmt, skip_locked=True)).mappings()]
            log = _EventLog(now)
            for run in expired:
                values: dict[str, Any] = {"lease_owner": None, "lease_expires_at": None}
                if run.attempt < run.max_attempts:
                    state = RunState.queued
                    values |= {"state": state.value, "due_at": now}
                else:
                    state = RunState.failed
                    values |= {"state": state.value, "finished_at": now, "error": LEASE_LOST}
                conn.execute(
                    update(runs).where(*_held(run.id, run.lease_owner or "")).values(**values)
                )
                detail = {
                    "worker": run.lease_owner,
                    "lease_expires_at": _iso(run.lease_expires_at),
                }
                log.add(run.id, events.RUN_LEASE_EXPIRED, state, run.attempt, detail)
            log.write(conn)
            if any(r.attempt < r.max_attempts for r in expired):
                self._announce_runs(conn)
            return self._runs_by_id(conn, [run.id for run in expired])

    # -- runs: reading (pruning: sql_ops.py) -------------------------------------------------------

    @_retried
    def get_run(self, run_id: int) -> Run | None:
        with self._transaction("read a run", write=False) as conn:
            found = self._runs_by_id(conn, [run_id])
        return found[0] if found else None

    @_retried
    def list_runs(self, query: RunFilter) -> list[Run]:
        """Runs matching ``query``, newest (highest id) first, at most ``query.limit``."""
        for value, name in ((query.since, "since"), (query.until, "until")):
            if value is not None:
                _aware(value, name)
        if query.limit <= 0:
            return []
        stmt = select(runs).order_by(runs.c.id.desc()).limit(query.limit)
        if query.schedule is not None and (query.states or query.since or query.until):
            # By id, so that (schedule_id, state, id) or (schedule_id, nominal_fire) answers
            # it: the name's (schedule, id) index read the schedule's whole history for a
            # state or a time range with nothing recent in it.
            stmt = stmt.where(runs.c.schedule_id == _schedule_id(query.schedule))
        elif query.schedule is not None:
            stmt = stmt.where(runs.c.schedule == query.schedule)
        if query.states:
            stmt = stmt.where(runs.c.state.in_(_values(query.states)))
        if query.since is not None:
            stmt = stmt.where(runs.c.nominal_fire >= query.since)
        if query.until is not None:
            stmt = stmt.where(runs.c.nominal_fire < query.until)
        if query.before_id is not None:
            stmt = stmt.where(runs.c.id < query.before_id)
        with self._transaction("list runs", write=False) as conn:
            return [_run(r) for r in conn.execute(stmt).mappings()]

    @_retried
    def run_events(self, run_id: int) -> list[RunEvent]:
        """Every transition of a run, oldest first (empty for an unknown run)."""
        stmt = select(run_events).where(run_events.c.run_id == run_id).order_by(run_events.c.id)
        with self._transaction("read run events", write=False) as conn:
            return [_event(r) for r in conn.execute(stmt).mappings()]

    @_retried
    def count_runs(self, schedule: str | None = None) -> dict[RunState, int]:
        """Run counts by state, every state present (zero when none)."""
        stmt = select(runs.c.state, func.count()).group_by(runs.c.state)
        if schedule is not None:  # by id: a scan of (schedule_id, state, id) alone
            stmt = stmt.where(runs.c.schedule_id == _schedule_id(schedule))
        counts = dict.fromkeys(RunState, 0)
        with self._transaction("count runs", write=False) as conn:
            for state, n in conn.execute(stmt):
                counts[RunState(state)] = int(n)
        return counts

    # -- workers -------------------------------------------------------------------------

    @_retried
    def register_worker(self, info: WorkerInfo) -> None:
        """Insert the process row, or refresh every column of an existing one."""
        _aware(info.started_at, "started_at")
        _aware(info.heartbeat_at, "heartbeat_at")
        values = {
            "id": info.id,
            "host": info.host,
            "pid": info.pid,
            "version": info.version,
            "roles": info.roles,
            "started_at": info.started_at,
            "heartbeat_at": info.heartbeat_at,
        }
        stmt = (
            self._dialect_insert(workers)
            .values(**values)
            .on_conflict_do_update(
                index_elements=["id"], set_={k: v for k, v in values.items() if k != "id"}
            )
        )
        with self._transaction("register a worker", write=True) as conn:
            conn.execute(stmt)

    @_retried
    def heartbeat_worker(self, worker: str, now: datetime) -> None:
        """Set the heartbeat of ``worker``; a worker that is not registered is left alone."""
        _aware(now, "now")
        with self._transaction("record a worker heartbeat", write=True) as conn:
            conn.execute(update(workers).where(workers.c.id == worker).values(heartbeat_at=now))

    @_retried
    def deregister_worker(self, worker: str) -> None:
        with self._transaction("deregister a worker", write=True) as conn:
            conn.execute(delete(workers).where(workers.c.id == worker))

    @_retried
    def list_workers(self) -> list[WorkerInfo]:
        """Registered processes ordered by id."""
        with self._transaction("list workers", write=False) as conn:
            rows = conn.execute(select(workers).order_by(workers.c.id)).mappings()
            return [WorkerInfo(**dict(r)) for r in rows]

    # -- shared reads --------------------------------------------------------------------

    def _first_fire(self) -> datetime | None:
        """The earliest next fire of a non-retired schedule (one read): whether a pass has
        anything to do, and if not, until when."""
        with self._transaction("look for due fires", write=False) as conn:
            first: datetime | None = conn.execute(_FIRST_FIRE).scalar()
        return first

    def _exists(self, probe: Select[Any], now: datetime, action: str) -> bool:
        """Whether ``probe`` (one of the ``_ANY_*`` statements) finds a row at ``now``: one
        read, before a write transaction that would find nothing to do (what it misses, a
        later pass finds). The statements are built once, so each call only binds ``now``."""
        with self._transaction(action, write=False) as conn:
            return conn.execute(probe, {"now": now}).first() is not None

    def _runs_by_id(self, conn: Connection, ids: Sequence[int]) -> list[Run]:
        """The runs with ``ids``, in that order."""
        if not ids:
            return []
        found: dict[int, Run] = {}
        for chunk in _chunks(ids):
            for r in conn.execute(select(runs).where(runs.c.id.in_(chunk))).mappings():
                found[r["id"]] = _run(r)
        return [found[i] for i in ids if i in found]


# -- one claim transaction's bookkeeping -------------------------------------------------


class _Live(NamedTuple):
    """What a claim reads of a schedule's live run to apply its overlap policy."""

    id: int
    state: RunState
    due_at: datetime
    attempt: int


@dataclass(slots=True)
class _EventLog:
    """Run events gathered during a transaction, written with one statement at its end."""

    at: datetime
    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(
        self,
        run_id: int,
        event: str,
        state: RunState,
        attempt: int,
        detail: dict[str, Any] | None = None,
    ) -> None:
        self.rows.append(
            {
                "run_id": run_id,
                "at": self.at,
                "event": event,
                "state": state.value,
                "attempt": attempt,
                "detail": detail,
            }
        )

    def write(self, conn: Connection) -> None:
        if not self.rows:
            return
        bulk = BULK_EVENTS.get(conn.dialect.name)
        if bulk is not None and len(self.rows) > 1:
            bulk(conn, self.rows)
        else:
            conn.execute(run_events.insert(), self.rows)


# A dialect's way to insert many event rows in one statement, where a plain multi-row
# INSERT costs more than it must (PostgreSQL: ``postgres.py``); registered by its module.
BULK_EVENTS: dict[str, Callable[[Connection, list[dict[str, Any]]], None]] = {}


@dataclass(slots=True)
class _Claim:
    worker: str
    now: datetime
    lease_expires_at: datetime
    room: int  # runs this claim may still start
    pending: list[_Live] = field(default_factory=list)  # to start, in claim order
    # runs to end, by (state read, state to, event, error)
    ending: dict[tuple[RunState, RunState, str, str], list[_Live]] = field(default_factory=dict)
    started: list[Run] = field(default_factory=list)  # as they are now, in claim order
    specs: dict[int, dict[str, Any]] = field(default_factory=dict)
    log: _EventLog = field(init=False)

    def __post_init__(self) -> None:
        self.log = _EventLog(self.now)

    def start(self, conn: Connection, run: _Live) -> bool:
        """Lease ``run`` to the worker (written by ``flush``); False when the claim has no
        room left."""
        if self.room == 0:
            return False
        self.room -= 1
        self.pending.append(run)
        return True

    def flush(self, conn: Connection, start: Any, *, logs_claims: bool) -> None:
        """Start the runs ``start`` took, in one statement (``start``: ``_START_RUNS`` or a
        dialect's version of it that also inserts the ``run_claimed`` events itself,
        ``logs_claims``; see ``SQLStore._start_runs``), after the runs ``end`` took. A run
        that is no longer waiting (nothing should change it while this claimer decides its
        schedule) is left out."""
        self._write_ends(conn)
        if not self.pending:
            return
        expires = self.lease_expires_at.isoformat()
        for chunk in _chunks([run.id for run in self.pending]):
            lease = {
                "ids": list(chunk),
                "worker": self.worker,
                "expires": self.lease_expires_at,
                "expires_text": expires,
                "now": self.now,
            }
            leased = conn.execute(start, lease).mappings()
            found = {r["id"]: _run(r) for r in leased}
            for run in self.pending:
                if run.id in found:
                    started = found[run.id]
                    self.started.append(started)
                    if logs_claims:
                        continue
                    detail = {"worker": self.worker, "lease_expires_at": expires}
                    self.log.add(
                        run.id, events.RUN_CLAIMED, RunState.running, started.attempt, detail
                    )
        self.pending = []

    def end(self, run: _Live, state: RunState, event: str, error: str) -> None:
        """Make ``run`` terminal in ``state`` (an overlap decision), clearing any lease:
        written by ``flush``, one statement per kind of decision (a schedule that comes
        back from downtime with sixty due fires has fifty-nine skipped at once)."""
        self.ending.setdefault((run.state, state, event, error), []).append(run)

    def _write_ends(self, conn: Connection) -> None:
        """The decisions ``end`` gathered; a run that is no longer in the state read (nothing
        should change it while this claimer decides its schedule) is left out."""
        for (was, state, event, error), ended in self.ending.items():
            attempts = {run.id: run.attempt for run in ended}
            for chunk in _chunks(list(attempts)):
                done = conn.execute(
                    _END_RUNS,
                    {
                        "ids": list(chunk),
                        "was": was.value,
                        "end_state": state.value,
                        "now": self.now,
                        "end_error": error,
                    },
                ).scalars()
                for run_id in done:
                    self.log.add(run_id, event, state, attempts[run_id], {"reason": error})
        self.ending = {}


# -- rows to domain objects ---------------------------------------------------------------


def _schedule(r: RowMapping) -> ScheduleRow:
    return ScheduleRow(
        id=r["id"],
        name=r["name"],
        spec=r["spec"],
        source=r["source"],
        paused=bool(r["paused"]),
        retired=bool(r["retired"]),
        next_fire_at=r["next_fire_at"],
        last_fire_at=r["last_fire_at"],
        anchor=r["anchor"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        version=r["version"],
    )


def _run(r: RowMapping) -> Run:
    values = dict(r)
    values["state"] = RunState(values["state"])
    return Run(**values)


def _event(r: RowMapping) -> RunEvent:
    return RunEvent(
        id=r["id"],
        run_id=r["run_id"],
        at=r["at"],
        event=r["event"],
        state=RunState(r["state"]),
        attempt=r["attempt"],
        detail=r["detail"] or {},
    )


# -- small helpers --------------------------------------------------------------------------


def _aware(value: datetime, name: str) -> None:
    """Refuse naive instants before anything is written (stores speak aware UTC)."""
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise InvalidSpecError(name, value, "an aware datetime (with tzinfo, e.g. UTC)")


def _positive(value: timedelta, name: str) -> None:
    if value <= timedelta(0):
        raise InvalidSpecError(name, value, "a positive duration")


def _canonical(spec: Any) -> str:
    """The JSON value of a spec as one string: equal strings mean equal specs."""
    return json.dumps(spec, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _check_spec(name: str, spec: dict[str, Any]) -> str:
    """The canonical JSON of a spec the store can act on, or ``InvalidSpecError``."""
    if not isinstance(spec, dict):
        raise InvalidSpecError("spec", spec, "a mapping", source=name)
    try:
        canonical = _canonical(spec)
    except (TypeError, ValueError) as exc:
        raise InvalidSpecError(
            "spec", spec, "JSON values only (str, int, float, bool, None, list, dict)", source=name
        ) from exc
    overlap = spec.get("overlap", DEFAULT_OVERLAP.value)
    if overlap not in set(OverlapPolicy):
        raise InvalidSpecError(
            "overlap", overlap, "one of " + ", ".join(OverlapPolicy), source=name
        )
    retries = spec.get("retries", 0)
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise InvalidSpecError("retries", retries, "a whole number >= 0", source=name)
    return canonical


def _overlap(spec: dict[str, Any]) -> OverlapPolicy:
    """The schedule's overlap policy; a value the store does not know (only possible when
    the row was written by hand) counts as the default rather than stalling every claim."""
    try:
        return OverlapPolicy(spec.get("overlap", DEFAULT_OVERLAP.value))
    except ValueError:
        return DEFAULT_OVERLAP


def _max_attempts(spec: dict[str, Any]) -> int:
    retries = spec.get("retries", 0)
    return retries + 1 if isinstance(retries, int) and retries >= 0 else 1


def _due_schedules(
    now: datetime | BindParameter[datetime],
    after: tuple[Any, Any] | None,
    *,
    may_skip_only: bool = False,
) -> Select[Any]:
    """Schedules with due waiting runs, by their oldest due run, as (schedule_id,
    first_due, key), keyset-paged after ``after`` = (first_due, key).

    A claim that may start runs reads the due waiting runs themselves in (due_at, id)
    order from the partial index of waiting runs (key: the run id; a schedule first appears
    at its oldest due run, and its later ones are passed over), so a page costs its size,
    not the backlog. ``may_skip_only``: a claim that can start nothing has only skip
    decisions to take, for the schedules whose overlap policy can record a fire skipped
    (grouped by schedule; key: the schedule id)."""
    if not may_skip_only:
        stmt = (
            select(
                runs.c.schedule_id,
                runs.c.due_at.label("first_due"),
                runs.c.id.label("key"),
            )
            .where(_WAITING, runs.c.due_at <= now)
            .order_by(runs.c.due_at, runs.c.id)
        )
        if after is not None:
            due, run_id = after
            stmt = stmt.where(
                or_(runs.c.due_at > due, and_(runs.c.due_at == due, runs.c.id > run_id)),
                # Schedules already decided that have more due runs: those would fill the
                # next pages (a busy schedule with many waiting fires: a page per two).
                runs.c.schedule_id.not_in(_SEEN),
            )
        return stmt
    first_due = func.min(runs.c.due_at)
    stmt = (
        select(runs.c.schedule_id, first_due.label("first_due"), runs.c.schedule_id.label("key"))
        .where(_WAITING, runs.c.due_at <= now)
        .group_by(runs.c.schedule_id)
        .order_by(first_due, runs.c.schedule_id)
    )
    policy = func.coalesce(schedules.c.spec["overlap"].as_string(), DEFAULT_OVERLAP.value)
    stmt = stmt.join(schedules, schedules.c.id == runs.c.schedule_id).where(
        policy.in_(sorted(SKIPPING_POLICIES))
    )
    # decide_overlap skips a fire only behind a busy run or another due fire: a lone
    # due fire of an idle schedule has nothing to decide (without this, a pass with
    # every slot busy would visit the whole backlog).
    other = runs.alias("other")
    busy = (
        select(other.c.id)
        .where(
            other.c.schedule_id == runs.c.schedule_id,
            other.c.state.in_([RunState.running.value, RunState.retrying.value]),
        )
        .exists()
    )
    stmt = stmt.having(or_(func.count() > 1, busy))
    if after is not None:
        due, sid = after
        stmt = stmt.having(or_(first_due > due, and_(first_due == due, runs.c.schedule_id > sid)))
    return stmt


def _page_size(room: int) -> int:
    """Rows a claim page reads when the claim may still start ``room`` runs: twice that
    (some due runs are not started: their schedule is busy); with no room, skip decisions
    only, CLAIM_PAGE schedules at a time."""
    return 2 * room if room > 0 else CLAIM_PAGE


def _is_due(now: datetime | BindParameter[datetime]) -> tuple[ColumnElement[bool], ...]:
    """Schedules with fires due at ``now``: not retired, next fire not after ``now``."""
    return (
        schedules.c.retired.is_(False),
        schedules.c.next_fire_at.is_not(None),
        schedules.c.next_fire_at <= now,
    )


def _run_values(
    row: ScheduleRow,
    nominal: datetime,
    due_at: datetime,
    state: RunState,
    decision: FireDecision,
    now: datetime,
) -> dict[str, Any]:
    """The columns of a new run of ``row`` for one fire (nominal fire in UTC)."""
    terminal = state in TERMINAL_STATES
    return {
        "schedule_id": row.id,
        "schedule": row.name,
        "nominal_fire": nominal.astimezone(UTC),
        "due_at": due_at,
        "state": state.value,
        "attempt": 0,
        "max_attempts": decision.max_attempts,
        "kind": "schedule",
        "created_at": now,
        "finished_at": now if terminal else None,
        "error": decision.reason if terminal else None,
    }


def _schedule_id(name: str) -> Any:
    """The id of the schedule named ``name``, as a scalar subquery (names are unique; runs
    keep the name they ran under, which is their schedule's)."""
    return select(schedules.c.id).where(schedules.c.name == name).scalar_subquery()


def _new_run(run_id: int, values: dict[str, Any], state: RunState) -> Run:
    """The run just inserted with ``values`` (``_run_values``; its ``state``), as the store
    would read it back: instants in UTC, the columns the insert left out empty."""
    return Run(
        id=run_id,
        schedule=values["schedule"],
        schedule_id=values["schedule_id"],
        nominal_fire=values["nominal_fire"],
        due_at=values["due_at"].astimezone(UTC),
        state=state,
        attempt=values["attempt"],
        max_attempts=values["max_attempts"],
        kind=values["kind"],
        lease_owner=None,
        lease_expires_at=None,
        created_at=values["created_at"].astimezone(UTC),
        started_at=None,
        finished_at=None,
        exit_code=None,
        error=None,
        output=None,
    )


def _within(
    decided: Iterable[tuple[ScheduleRow, FireDecision]], fire_limit: int | None
) -> list[tuple[ScheduleRow, FireDecision]]:
    """The decisions, in order, up to the one that would take the pass past ``fire_limit``
    fires (the first is always kept: a pass makes progress). The rows left out are not
    advanced, so they stay due for the next pass."""
    kept: list[tuple[ScheduleRow, FireDecision]] = []
    total = 0
    for row, decision in decided:
        fires = len(decision.queue) + len(decision.miss) + len(decision.skip)
        if kept and fire_limit is not None and total + fires > fire_limit:
            break
        kept.append((row, decision))
        total += fires
    return kept


def _fires_in_order(decision: FireDecision) -> list[tuple[datetime, datetime, RunState]]:
    """Every fire of a decision as (nominal, due at, state), oldest nominal first, so run ids
    follow fire times."""
    fired = [(nominal, due_at, RunState.queued) for nominal, due_at in decision.queue]
    fired += [(nominal, nominal, RunState.missed) for nominal in decision.miss]
    fired += [(nominal, nominal, RunState.skipped) for nominal in decision.skip]
    return sorted(fired, key=lambda f: f[0])


def _values(states: frozenset[RunState]) -> list[str]:
    return sorted(s.value for s in states)


def _held(run_id: int, worker: str) -> tuple[ColumnElement[bool], ...]:
    """The fence of every write a worker makes (DESIGN.md, engine sketch)."""
    return (
        runs.c.id == run_id,
        runs.c.state == RunState.running.value,
        runs.c.lease_owner == worker,
    )


def _same_instant(column: Any, value: datetime | None) -> ColumnElement[bool]:
    return column.is_(None) if value is None else column == value  # type: ignore[no-any-return]


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _chunks(ids: Sequence[int], size: int = 500) -> Iterator[Sequence[int]]:
    """``ids`` in slices that stay under SQLite's bound-parameter limit (999 before 3.32)."""
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


# Waiting runs, the states spelled out as literals: the planner then serves a due-order scan
# from the partial index of waiting runs (ix_tw_runs_waiting_due, whose WHERE this matches);
# bound parameters would not tell it the index covers them.
_WAITING = runs.c.state.in_([literal_column(f"'{value}'") for value in _values(WAITING_STATES)])
# The probes ``_exists`` runs before a write transaction, built once (``now`` is bound).
_NOW: BindParameter[datetime] = bindparam("now", type_=UTCDateTime())
_AFTER_DUE: BindParameter[datetime] = bindparam("after_due", type_=UTCDateTime())
_AFTER_KEY: BindParameter[int] = bindparam("after_key", type_=Integer())
_SIZE: BindParameter[int] = bindparam("size", type_=Integer())
_SEEN: BindParameter[Any] = bindparam("seen", expanding=True)
_FIRST_FIRE = select(type_coerce(func.min(schedules.c.next_fire_at), UTCDateTime())).where(
    schedules.c.retired.is_(False)
)
_FIRST_DUE = select(type_coerce(func.min(runs.c.due_at), UTCDateTime())).where(
    runs.c.state.in_(_values(WAITING_STATES))
)
_ANY_DUE_RUN = select(runs.c.id).where(_WAITING, runs.c.due_at <= _NOW).limit(1)
_ANY_DUE_SKIPPABLE = _due_schedules(_NOW, None, may_skip_only=True).limit(1)
# The scheduler's conditional advance of a due schedule (its next_fire_at is never NULL).
_ADVANCE = (
    update(schedules)
    .where(
        schedules.c.id == bindparam("row_id"),
        schedules.c.next_fire_at == bindparam("read", type_=UTCDateTime()),
    )
    .values(
        next_fire_at=bindparam("next", type_=UTCDateTime()),
        last_fire_at=func.coalesce(
            bindparam("last", type_=UTCDateTime()), schedules.c.last_fire_at
        ),
    )
)
# The statements of a claim, built once; ``ids`` expands to the list given.
_IDS: BindParameter[Any] = bindparam("ids", expanding=True)
_LIVE_RUNS = (
    select(
        runs.c.id,
        runs.c.schedule_id,
        runs.c.state,
        runs.c.due_at,
        runs.c.attempt,
        schedules.c.spec,
    )
    .join(schedules, schedules.c.id == runs.c.schedule_id)
    .where(
        runs.c.schedule_id.in_(_IDS),
        or_(
            runs.c.state.in_([RunState.running.value, RunState.retrying.value]),
            and_(runs.c.state == RunState.queued.value, runs.c.due_at <= _NOW),
        ),
    )
    .order_by(runs.c.schedule_id, runs.c.due_at, runs.c.id)
)
# An overlap decision's runs made terminal (``_Claim.end``): bound ``ids``, ``was`` (the
# state read), ``end_state``, ``now``, ``end_error``; returns the ids it changed.
_END_RUNS = (
    update(runs)
    .where(runs.c.id.in_(_IDS), runs.c.state == bindparam("was"))
    .values(
        state=bindparam("end_state"),
        lease_owner=None,
        lease_expires_at=None,
        finished_at=_NOW,
        error=bindparam("end_error"),
    )
    .returning(runs.c.id)
)

_START_RUNS = (
    update(runs)
    .where(runs.c.id.in_(_IDS), runs.c.state.in_(_values(WAITING_STATES)))
    .values(
        state=RunState.running.value,
        lease_owner=bindparam("worker"),
        lease_expires_at=bindparam("expires", type_=UTCDateTime()),
        attempt=runs.c.attempt + 1,
        started_at=_NOW,
    )
    .returning(*runs.c)
)
