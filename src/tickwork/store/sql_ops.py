"""SQL of the operations interface (``store/ops.py``): backfill, health and overdue, the alert
outbox, retention. A mixin ``SQLStore`` inherits; it uses the store's transactions and dialect
hooks (``store/sql.py``), so both databases share every statement here.

Alerts are inserted with ``ON CONFLICT DO NOTHING`` on (kind, schedule, fire) (revision 0003):
several scheduler processes looking at the same runs insert each alert once. Health is
recomputed from the runs rather than incremented, so two monitors that look at the same
finished runs write the same values.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from sqlalchemy import (
    Select,
    Table,
    and_,
    bindparam,
    delete,
    func,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.engine import Connection, Engine, RowMapping
from sqlalchemy.sql.dml import Insert

from tickwork import events
from tickwork.errors import InvalidSpecError, ScheduleNotFoundError
from tickwork.model import TERMINAL_STATES, Run, RunState, ScheduleRow
from tickwork.store import migrations
from tickwork.store.ops import (
    BACKFILL_PARKED,
    Alert,
    BackfillChunk,
    BackfillRelease,
    FinishedCursor,
    FinishedReport,
    OverdueDecider,
    OverdueReport,
    ScheduleHealth,
)
from tickwork.store.schema import (
    UTCDateTime,
    alerts,
    off_index,
    run_counts,
    run_events,
    runs,
    schedule_health,
    schedules,
)

__all__ = ["OpsSQLMixin"]

FINAL_FAILURES = (RunState.failed.value, RunState.timed_out.value)
FINISHED = (RunState.succeeded.value, *FINAL_FAILURES)
ERROR_IN_ALERT = 2000  # characters of a run's error carried by its alert
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # before any fire: "no success yet"


class _SQLInternals(Protocol):
    """What the mixin uses of ``SQLStore`` (its self type)."""

    _engine: Engine
    _label: str

    def _transaction(self, action: str, *, write: bool) -> AbstractContextManager[Connection]: ...
    def _dialect_insert(self, table: Table) -> Any: ...
    def _lock(self, stmt: Select[Any], *, skip_locked: bool) -> Select[Any]: ...
    def _announce_runs(self, conn: Connection) -> None: ...
    def _insert_runs(
        self, conn: Connection, rows: Sequence[dict[str, Any]]
    ) -> dict[tuple[int, datetime], int]: ...
    def _runs_by_id(self, conn: Connection, ids: Sequence[int]) -> list[Run]: ...
    def count_runs(self, schedule: str | None = None) -> dict[RunState, int]: ...
    def prune_batch(self, finished_before: datetime, batch: int) -> int: ...


M = TypeVar("M")
P = ParamSpec("P")
R = TypeVar("R")


def _retried(method: Callable[Concatenate[M, P], R]) -> Callable[Concatenate[M, P], R]:
    """``sql._retried`` (a rolled-back transaction runs again), looked up at call time: this
    module is imported while ``sql.py`` is still being defined."""

    @functools.wraps(method)
    def call(self: M, /, *args: P.args, **kwargs: P.kwargs) -> R:
        wrapped: Callable[..., R] = _sql._retried(method)
        return wrapped(self, *args, **kwargs)

    return call


class OpsSQLMixin:
    """``OperationsStore`` for ``SQLStore``."""

    # -- backfill ------------------------------------------------------------------------

    @_retried
    def backfill_runs(
        self: _SQLInternals, name: str, fires: Sequence[datetime], now: datetime, *, parked: bool
    ) -> BackfillChunk:
        """Queued backfill runs for the fires of ``name`` without one (see
        ``OperationsStore``), one transaction; the caller chunks large ranges."""
        _sql._aware(now, "now")
        for fire in fires:
            _sql._aware(fire, "fire")
        with self._transaction("create backfill runs", write=True) as conn:
            row = _active_schedule(conn, name)
            due = BACKFILL_PARKED if parked else now
            values = [
                {
                    "schedule_id": row.id,
                    "schedule": row.name,
                    "nominal_fire": fire.astimezone(UTC),
                    "due_at": due,
                    "state": RunState.queued.value,
                    "attempt": 0,
                    "max_attempts": _sql._max_attempts(row.spec),
                    "kind": "backfill",
                    "created_at": now,
                }
                for fire in sorted(set(fires))
            ]
            created = self._insert_runs(conn, values)
            ids = sorted(created.values())
            log = _sql._EventLog(now)
            for run_id in ids:
                log.add(run_id, events.RUN_TRIGGERED, RunState.queued, 0, {"kind": "backfill"})
            log.write(conn)
            if ids and not parked:
                self._announce_runs(conn)
            made = self._runs_by_id(conn, ids)
        return BackfillChunk(created=tuple(made), existing=len(values) - len(made))

    @_retried
    def runs_at(
        self: _SQLInternals, name: str, fires: Sequence[datetime]
    ) -> dict[datetime, RunState]:
        found: dict[datetime, RunState] = {}
        instants = sorted({f.astimezone(UTC) for f in fires})
        with self._transaction("read runs of fires", write=False) as conn:
            for chunk in _sql._chunks(instants):  # type: ignore[arg-type]
                stmt = select(runs.c.nominal_fire, runs.c.state).where(
                    runs.c.schedule_id == _sql._schedule_id(name),  # the unique index
                    runs.c.nominal_fire.in_(list(chunk)),
                )
                for nominal, state in conn.execute(stmt):
                    found[nominal] = RunState(state)
        return found

    @_retried
    def release_backfill(self: _SQLInternals, now: datetime, limit: int) -> BackfillRelease:
        """Make the oldest parked backfill run of each idle schedule due (see
        ``OperationsStore``). Two schedulers pick the same run; the conditional update lets
        one of them have it."""
        _sql._aware(now, "now")
        parked = and_(
            runs.c.state == RunState.queued.value,
            runs.c.due_at == BACKFILL_PARKED,
            runs.c.kind == "backfill",
        )
        # Decided per schedule, not per parked run: a schedule with 10^4 parked runs costs
        # one busy check and one index walk (the unique key orders by nominal fire).
        with_parked = select(runs.c.schedule_id).where(parked).distinct()
        busy = (
            select(runs.c.id)
            .where(
                runs.c.schedule_id == schedules.c.id,
                or_(
                    runs.c.state.in_([RunState.running.value, RunState.retrying.value]),
                    and_(runs.c.state == RunState.queued.value, runs.c.due_at <= now),
                ),
            )
            .exists()
        )
        idle = (
            select(schedules.c.id)
            .where(schedules.c.id.in_(with_parked), schedules.c.paused.is_(False), ~busy)
            .order_by(schedules.c.id)
            .limit(max(limit, 0))
        )
        # A read first: no write transaction (SQLite: no write lock) when nothing is parked.
        with self._transaction("look for parked backfill runs", write=False) as conn:
            waiting = conn.execute(select(runs.c.id).where(parked).limit(1)).first() is not None
        if not waiting or limit <= 0:
            return BackfillRelease(waiting=waiting)
        with self._transaction("release backfill runs", write=True) as conn:
            released: list[int] = []
            for schedule_id in conn.execute(idle).scalars().all():
                oldest = (
                    select(runs.c.id)
                    .where(runs.c.schedule_id == schedule_id, parked)
                    .order_by(runs.c.nominal_fire)
                    .limit(1)
                    .scalar_subquery()
                )
                run_id = conn.execute(
                    update(runs)
                    .where(runs.c.id == oldest, parked)
                    .values(due_at=now)
                    .returning(runs.c.id)
                ).scalar_one_or_none()
                if run_id is not None:
                    released.append(int(run_id))
            if released:
                self._announce_runs(conn)
            made = self._runs_by_id(conn, released)
        return BackfillRelease(released=tuple(made), waiting=True)

    # -- health and alerts ---------------------------------------------------------------

    @_retried
    def record_finished(
        self: _SQLInternals,
        now: datetime,
        after: FinishedCursor | None,
        until: datetime,
        *,
        pause_after: int,
        limit: int,
    ) -> FinishedReport:
        """Health, ``run_failed`` alerts and pause-on-failure for finished runs (see
        ``OperationsStore``)."""
        _sql._aware(now, "now")
        _sql._aware(until, "until")
        if pause_after < 0:
            raise InvalidSpecError("pause_after", pause_after, "a whole number >= 0")
        # SQLite's planner took the (state, due_at) index for the state filter and then
        # sorted every finished run of the history, on every page (0.45 s with a million
        # runs); with the state term kept off indexes a page is read in finished_at order
        # from the cursor and costs its size.
        stmt = (
            select(runs)
            .where(
                off_index(runs.c.state, self._engine.dialect.name).in_(FINISHED),
                runs.c.finished_at.is_not(None),
                runs.c.finished_at <= until,
            )
            .order_by(runs.c.finished_at, runs.c.id)
            .limit(max(limit, 0))
        )
        if after is not None:
            at, run_id = after
            # The >= bound first: the finished_at index starts the page at the cursor (the
            # OR alone made the planner read the history from its start on every page).
            stmt = stmt.where(
                runs.c.finished_at >= at,
                or_(runs.c.finished_at > at, runs.c.id > run_id),
            )
        # Read, then write only when runs finished: what the write recomputes is idempotent,
        # so a run seen here and changed before the write is still counted right.
        with self._transaction("read finished runs", write=False) as conn:
            seen = [_sql._run(r) for r in conn.execute(stmt).mappings()]
        if not seen:
            return FinishedReport(cursor=after)
        failures = [
            _alert_values("run_failed", run.schedule, run.nominal_fire, run.id, _run_payload(run))
            for run in seen
            if run.state.value in FINAL_FAILURES
        ]
        with self._transaction("record finished runs", write=True) as conn:
            created = _insert_alerts(self, conn, now, failures)
            streaks = _refresh_health(self, conn, seen, now)
            paused: list[str] = []
            if pause_after:
                due = {sid: streak for sid, streak in streaks.items() if streak[0] >= pause_after}
                pausing = _pause_on_failure(self, conn, due, now)
                created += pausing
                paused = [alert.schedule for alert in pausing]
        last = seen[-1]
        assert last.finished_at is not None
        return FinishedReport(
            cursor=(last.finished_at, last.id),
            scanned=len(seen),
            alerts=tuple(created),
            paused=tuple(paused),
        )

    @_retried
    def check_overdue(
        self: _SQLInternals, now: datetime, after: int | None, limit: int, decide: OverdueDecider
    ) -> OverdueReport:
        """Overdue decisions for a page of schedules (see ``OperationsStore``): one read,
        then a write transaction only when a decision changed."""
        _sql._aware(now, "now")
        last_success = (
            select(func.max(runs.c.nominal_fire))
            .where(runs.c.schedule_id == schedules.c.id, runs.c.state == RunState.succeeded.value)
            .scalar_subquery()
        )
        page = (
            select(
                schedules,
                schedule_health.c.last_success_fire.label("h_last_success_fire"),
                schedule_health.c.overdue_fire.label("h_overdue_fire"),
                schedule_health.c.overdue_since.label("h_overdue_since"),
                _instant(last_success).label("run_last_success_fire"),
            )
            .select_from(
                schedules.outerjoin(
                    schedule_health, schedule_health.c.schedule_id == schedules.c.id
                )
            )
            .where(schedules.c.retired.is_(False), schedules.c.id > (after or 0))
            .order_by(schedules.c.id)
            .limit(max(limit, 1))
        )
        with self._transaction("read schedules for overdue", write=False) as conn:
            rows = conn.execute(page).mappings().all()
        changes: list[tuple[ScheduleRow, tuple[datetime, datetime] | None]] = []
        overdue: list[str] = []
        for r in rows:
            row = _sql._schedule(r)
            known = [t for t in (r["h_last_success_fire"], r["run_last_success_fire"]) if t]
            verdict = None if row.paused else decide(row, max(known) if known else None)
            if verdict is not None:
                overdue.append(row.name)
            stored = (r["h_overdue_fire"], r["h_overdue_since"]) if r["h_overdue_fire"] else None
            if verdict != stored:
                changes.append((row, verdict))
        created: list[Alert] = []
        cleared: list[str] = []
        if changes:
            with self._transaction("record overdue schedules", write=True) as conn:
                for row, verdict in changes:
                    fire, since = verdict if verdict is not None else (None, None)
                    _upsert_health(self, conn, row.id, now, overdue_fire=fire, overdue_since=since)
                    if verdict is None:
                        cleared.append(row.name)
                        continue
                    payload = {
                        "kind": "overdue",
                        "schedule": row.name,
                        "fire": verdict[0].isoformat(),
                        "overdue_since": verdict[1].isoformat(),
                    }
                    created += _insert_alerts(
                        self,
                        conn,
                        now,
                        [_alert_values("overdue", row.name, verdict[0], None, payload)],
                    )
        return OverdueReport(
            next_after=rows[-1]["id"] if len(rows) >= max(limit, 1) else None,
            overdue=tuple(overdue),
            cleared=tuple(cleared),
            alerts=tuple(created),
        )

    @_retried
    def list_health(self: _SQLInternals) -> list[ScheduleHealth]:
        stmt = (
            select(schedules.c.name, schedule_health)
            .join(schedules, schedules.c.id == schedule_health.c.schedule_id)
            .order_by(schedules.c.name)
        )
        with self._transaction("read schedule health", write=False) as conn:
            return [_health(r) for r in conn.execute(stmt).mappings()]

    @_retried
    def list_overdue(self: _SQLInternals, limit: int) -> list[ScheduleHealth]:
        """Live schedules overdue now, longest overdue first, at most ``limit``."""
        if limit <= 0:
            raise InvalidSpecError("limit", limit, "a positive number of schedules")
        stmt = (
            select(schedules.c.name, schedule_health)
            .join(schedules, schedules.c.id == schedule_health.c.schedule_id)
            .where(schedule_health.c.overdue_since.is_not(None))
            .where(schedules.c.retired.is_(False))
            .order_by(schedule_health.c.overdue_since, schedules.c.name)
            .limit(limit)
        )
        with self._transaction("read overdue schedules", write=False) as conn:
            return [_health(r) for r in conn.execute(stmt).mappings()]

    @_retried
    def claim_alerts(
        self: _SQLInternals, now: datetime, lease: timedelta, limit: int
    ) -> list[Alert]:
        """Lease due alerts for delivery (see ``OperationsStore``)."""
        _sql._aware(now, "now")
        _sql._positive(lease, "lease")
        if limit <= 0:
            return []
        due = (
            select(alerts.c.id)
            .where(
                alerts.c.delivered_at.is_(None),
                alerts.c.failed_at.is_(None),
                alerts.c.next_attempt_at <= now,
            )
            .order_by(alerts.c.next_attempt_at, alerts.c.id)
            .limit(limit)
        )
        with self._transaction("claim alerts", write=True) as conn:
            ids = list(conn.execute(self._lock(due, skip_locked=True)).scalars())
            if not ids:
                return []
            conn.execute(
                update(alerts)
                .where(alerts.c.id.in_(ids))
                .values(attempts=alerts.c.attempts + 1, next_attempt_at=now + lease)
            )
            found = conn.execute(select(alerts).where(alerts.c.id.in_(ids))).mappings()
            by_id = {r["id"]: _alert(r) for r in found}
        return [by_id[i] for i in ids]

    @_retried
    def alert_delivered(self: _SQLInternals, alert_id: int, now: datetime) -> None:
        _sql._aware(now, "now")
        with self._transaction("record an alert delivered", write=True) as conn:
            conn.execute(
                update(alerts)
                .where(alerts.c.id == alert_id, alerts.c.delivered_at.is_(None))
                .values(delivered_at=now, last_error=None)
            )

    @_retried
    def alert_attempt_failed(
        self: _SQLInternals, alert_id: int, now: datetime, error: str, retry_at: datetime | None
    ) -> None:
        _sql._aware(now, "now")
        values: dict[str, Any] = {"last_error": error[:ERROR_IN_ALERT]}
        if retry_at is None:
            values["failed_at"] = now
        else:
            _sql._aware(retry_at, "retry_at")
            values["next_attempt_at"] = retry_at
        with self._transaction("record an alert delivery failure", write=True) as conn:
            conn.execute(
                update(alerts)
                .where(alerts.c.id == alert_id, alerts.c.delivered_at.is_(None))
                .values(**values)
            )

    @_retried
    def list_alerts(self: _SQLInternals, limit: int = 100) -> list[Alert]:
        stmt = select(alerts).order_by(alerts.c.id.desc()).limit(max(limit, 0))
        with self._transaction("list alerts", write=False) as conn:
            return [_alert(r) for r in conn.execute(stmt).mappings()]

    # -- retention -----------------------------------------------------------------------

    def prune(self: _SQLInternals, finished_before: datetime, batch: int = 1000) -> int:
        """Delete terminal runs finished before the instant, with their events, ``batch``
        runs per transaction (oldest ids first), keeping their counts in ``tw_run_counts``.
        Waiting and running runs are never deleted. Returns how many runs were deleted."""
        total = 0
        while True:
            deleted = self.prune_batch(finished_before, batch)
            total += deleted
            if deleted < batch:
                return total

    @_retried
    def prune_batch(self: _SQLInternals, finished_before: datetime, batch: int) -> int:
        """One short transaction of pruning (see ``OperationsStore``)."""
        _sql._aware(finished_before, "finished_before")
        if batch <= 0:
            raise InvalidSpecError("batch", batch, "a positive number of runs per transaction")
        oldest = (
            select(runs.c.id, runs.c.schedule, runs.c.state)
            .where(
                runs.c.state.in_(_sql._values(TERMINAL_STATES)),
                runs.c.finished_at < finished_before,
            )
            .order_by(runs.c.id)
            .limit(batch)
        )
        # Alerts too: delivered, given up, or never sent (no webhook configured); an alert
        # older than the retention is news to no one.
        old_alerts = (
            select(alerts.c.id)
            .where(alerts.c.created_at < finished_before)
            .order_by(alerts.c.id)
            .limit(batch)
        )
        with self._transaction("prune finished runs", write=True) as conn:
            found = conn.execute(oldest).all()
            counts = Counter((schedule, state) for _, schedule, state in found)
            if counts:
                stmt = self._dialect_insert(run_counts)
                upsert = stmt.on_conflict_do_update(
                    index_elements=["schedule", "state"],
                    set_={"count": run_counts.c.count + stmt.excluded.count},
                )
                conn.execute(
                    upsert,
                    [
                        {"schedule": schedule, "state": state, "count": n}
                        for (schedule, state), n in sorted(counts.items())
                    ],
                )
            ids = [int(run_id) for run_id, _, _ in found]
            for chunk in _sql._chunks(ids):
                conn.execute(delete(run_events).where(run_events.c.run_id.in_(chunk)))
                conn.execute(delete(runs).where(runs.c.id.in_(chunk)))
            alert_ids = list(conn.execute(old_alerts).scalars())
            for chunk in _sql._chunks(alert_ids):
                conn.execute(delete(alerts).where(alerts.c.id.in_(chunk)))
        return len(ids)

    @_retried
    def run_totals(self: _SQLInternals, schedule: str | None = None) -> dict[RunState, int]:
        totals = self.count_runs(schedule)
        stmt = select(run_counts.c.state, func.sum(run_counts.c.count)).group_by(run_counts.c.state)
        if schedule is not None:
            stmt = stmt.where(run_counts.c.schedule == schedule)
        with self._transaction("count pruned runs", write=False) as conn:
            for state, n in conn.execute(stmt):
                totals[RunState(state)] += int(n or 0)
        return totals

    @_retried
    def schema_revision(self: _SQLInternals) -> tuple[str | None, str | None]:
        with self._transaction("read the schema revision", write=False) as conn:
            current = migrations.current_revision(conn)
        return current, migrations.head_revision()


# -- helpers (inside a caller's transaction) --------------------------------------------------


def _active_schedule(conn: Connection, name: str) -> ScheduleRow:
    found = (
        conn.execute(
            select(schedules).where(schedules.c.name == name, schedules.c.retired.is_(False))
        )
        .mappings()
        .one_or_none()
    )
    if found is None:
        raise ScheduleNotFoundError(name)
    return _sql._schedule(found)


def _instant(expr: Any) -> Any:
    """An aggregate over an instant column, read back as an aware instant."""
    return type_coerce(expr, UTCDateTime())


def _run_payload(run: Run) -> dict[str, Any]:
    return {
        "kind": "run_failed",
        "schedule": run.schedule,
        "fire": run.nominal_fire.isoformat(),
        "run_id": run.id,
        "state": run.state.value,
        "attempt": run.attempt,
        "max_attempts": run.max_attempts,
        "run_kind": run.kind,
        "finished_at": _sql._iso(run.finished_at),
        "error": (run.error or "")[-ERROR_IN_ALERT:] or None,
        "idempotency_key": run.idempotency_key,
    }


def _alert_values(
    kind: str, schedule: str, fire: datetime, run_id: int | None, payload: dict[str, Any]
) -> dict[str, Any]:
    return {
        "kind": kind,
        "schedule": schedule,
        "fire": fire.astimezone(UTC),
        "run_id": run_id,
        "payload": payload,
    }


def _insert_alerts(
    store: _SQLInternals, conn: Connection, now: datetime, items: Sequence[dict[str, Any]]
) -> list[Alert]:
    """Insert alerts, leaving alone each (kind, schedule, fire) that has one already (the
    unique index decides); the new ones, in one statement (SQLAlchemy's insertmanyvalues
    gathers what RETURNING gives back)."""
    if not items:
        return []
    stmt = store._dialect_insert(alerts).on_conflict_do_nothing(
        index_elements=["kind", "schedule", "fire"]
    )
    assert isinstance(stmt, Insert)
    rows = [{**item, "created_at": now, "attempts": 0, "next_attempt_at": now} for item in items]
    made = conn.execute(stmt.returning(*alerts.c), rows).mappings().all()
    return sorted((_alert(r) for r in made), key=lambda alert: alert.id)


def _refresh_health(
    store: _SQLInternals, conn: Connection, seen: Sequence[Run], now: datetime
) -> dict[int, tuple[int, datetime]]:
    """Bring the health of the schedules of ``seen`` (finished runs, in the cursor's order)
    up to date, a few grouped statements per 200 schedules. Returns (failures in a row,
    latest of them) for each schedule that has failures since its last success.

    The last success is the later of the health row's and the newest among ``seen``: every
    finished run passes the cursor once, and the later of two is the same whichever monitor
    (or pass) records it first. The run history, which grows without end (an every-second
    schedule adds 86,400 runs a day), is read only for a schedule with no health row yet
    (its successes may be older than the cursor): reading it on every page cost 0.8 s
    under the write lock with 10,000 runs a schedule. The failure streak counts the failed
    runs after the last success, as stored."""
    streaks: dict[int, tuple[int, datetime]] = {}
    fresh: dict[int, tuple[datetime | None, datetime | None]] = {}
    for run in seen:
        old_fire, old_at = fresh.get(run.schedule_id, (None, None))
        if run.state is RunState.succeeded:
            fresh[run.schedule_id] = (
                _latest(old_fire, run.nominal_fire),
                _latest(old_at, run.finished_at),
            )
        else:
            fresh[run.schedule_id] = (old_fire, old_at)
    for chunk in _sql._chunks(sorted(fresh), 200):
        ids = list(chunk)
        known = {sid: fresh[sid] for sid in ids}
        stored = select(
            schedule_health.c.schedule_id,
            schedule_health.c.last_success_fire,
            schedule_health.c.last_success_at,
        ).where(schedule_health.c.schedule_id.in_(ids))
        unrecorded = set(ids)  # no health row yet: the history is read once
        for sid, fire, at in conn.execute(stored):
            unrecorded.discard(sid)
            old_fire, old_at = known[sid]
            known[sid] = (_latest(old_fire, fire), _latest(old_at, at))
        if unrecorded:
            succeeded = (
                select(
                    runs.c.schedule_id,
                    _instant(func.max(runs.c.nominal_fire)),
                    _instant(func.max(runs.c.finished_at)),
                )
                .where(
                    runs.c.schedule_id.in_(sorted(unrecorded)),
                    runs.c.state == RunState.succeeded.value,
                )
                .group_by(runs.c.schedule_id)
            )
            for sid, fire, at in conn.execute(succeeded):
                old_fire, old_at = known[sid]
                known[sid] = (_latest(old_fire, fire), _latest(old_at, at))
        # The last successes first; the streaks are counted against them (one statement
        # of one shape, however many schedules), then written.
        stmt = store._dialect_insert(schedule_health)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["schedule_id"],
                set_={
                    "last_success_fire": stmt.excluded.last_success_fire,
                    "last_success_at": stmt.excluded.last_success_at,
                    "consecutive_failures": stmt.excluded.consecutive_failures,
                    "updated_at": stmt.excluded.updated_at,
                },
            ),
            [
                {
                    "schedule_id": sid,
                    "last_success_fire": fire,
                    "last_success_at": at,
                    "consecutive_failures": 0,
                    "updated_at": now,
                }
                for sid, (fire, at) in sorted(known.items())
            ],
        )
        for sid, count, latest in conn.execute(_STREAKS, {"ids": ids}):
            streaks[sid] = (int(count), latest)
        if any(sid in streaks for sid in ids):
            conn.execute(
                _SET_STREAK,
                [{"sid": sid, "streak": streaks[sid][0]} for sid in ids if sid in streaks],
            )
    return streaks


# Final failures after each schedule's last success (as its health row has it): how many,
# and the latest; bound: ``ids``.
_STREAKS = (
    select(runs.c.schedule_id, func.count(), _instant(func.max(runs.c.nominal_fire)))
    .select_from(runs.join(schedule_health, schedule_health.c.schedule_id == runs.c.schedule_id))
    .where(
        runs.c.schedule_id.in_(bindparam("ids", expanding=True)),
        runs.c.state.in_(FINAL_FAILURES),
        runs.c.nominal_fire
        > func.coalesce(
            schedule_health.c.last_success_fire, bindparam("epoch", _EPOCH, type_=UTCDateTime())
        ),
    )
    .group_by(runs.c.schedule_id)
)
_SET_STREAK = (
    update(schedule_health)
    .where(schedule_health.c.schedule_id == bindparam("sid"))
    .values(consecutive_failures=bindparam("streak"))
)


def _pause_on_failure(
    store: _SQLInternals,
    conn: Connection,
    streaks: dict[int, tuple[int, datetime]],
    now: datetime,
) -> list[Alert]:
    """Pause the active schedules of ``streaks`` (failures in a row, latest failure), once
    per latest failure: the alert's unique key says whether this failure paused it already
    (a schedule resumed by hand stays resumed until it fails again)."""
    if not streaks:
        return []
    active = conn.execute(
        select(schedules.c.id, schedules.c.name).where(
            schedules.c.id.in_(list(streaks)),
            schedules.c.paused.is_(False),
            schedules.c.retired.is_(False),
        )
    ).all()
    items = []
    for sid, name in active:
        count, latest = streaks[sid]
        payload = {
            "kind": "paused_on_failure",
            "schedule": name,
            "fire": latest.isoformat(),
            "consecutive_failures": count,
        }
        items.append(_alert_values("paused_on_failure", name, latest, None, payload))
    made = _insert_alerts(store, conn, now, items)
    if made:
        conn.execute(
            update(schedules)
            .where(
                schedules.c.name.in_([alert.schedule for alert in made]),
                schedules.c.paused.is_(False),
            )
            .values(paused=True, updated_at=now, version=schedules.c.version + 1)
        )
    return made


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


def _upsert_health(
    store: _SQLInternals, conn: Connection, schedule_id: int, now: datetime, **values: Any
) -> None:
    stmt = store._dialect_insert(schedule_health).values(
        schedule_id=schedule_id, updated_at=now, **{"consecutive_failures": 0, **values}
    )
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["schedule_id"], set_={"updated_at": now, **values}
        )
    )


def _alert(r: RowMapping) -> Alert:
    return Alert(
        id=r["id"],
        kind=r["kind"],
        schedule=r["schedule"],
        run_id=r["run_id"],
        fire=r["fire"],
        payload=r["payload"],
        created_at=r["created_at"],
        attempts=r["attempts"],
        next_attempt_at=r["next_attempt_at"],
        delivered_at=r["delivered_at"],
        failed_at=r["failed_at"],
        last_error=r["last_error"],
    )


def _health(r: RowMapping) -> ScheduleHealth:
    return ScheduleHealth(
        schedule=r["name"],
        last_success_at=r["last_success_at"],
        last_success_fire=r["last_success_fire"],
        consecutive_failures=r["consecutive_failures"],
        overdue_since=r["overdue_since"],
        overdue_fire=r["overdue_fire"],
    )


# Last, so that importing either module first works: ``sql.py`` imports this module for
# ``OpsSQLMixin`` while it is being defined; these helpers are only read at call time.
import tickwork.store.sql as _sql  # noqa: E402
