"""The SQL of the HTTP API (``TokenStore``, ``APIStore`` in ``store/api_base.py``), shared by
both stores as a mixin over ``SQLStore``: ``class SQLiteStore(APISQLMixin)``.

Same rules as ``store/sql.py``: each public method is one transaction, ``now`` is passed in,
the database says no (unique keys, conditional updates checked by row count).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Container, Hashable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Integer,
    Select,
    String,
    Text,
    bindparam,
    cast,
    delete,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection, RowMapping

from tickwork import events
from tickwork.errors import (
    InvalidSpecError,
    NotPermittedError,
    RunNotFoundError,
    ScheduleConflictError,
    ScheduleNotFoundError,
    StateConflictError,
)
from tickwork.model import TERMINAL_STATES, WAITING_STATES, Run, RunState, ScheduleRow
from tickwork.store.api_base import (
    IdempotentOutcome,
    KeyedSchedulePage,
    ScheduleChange,
    SchedulePage,
    StoredResponse,
    TokenRow,
)
from tickwork.store.schema import UTCDateTime, idempotency_keys, runs, schedules, tokens
from tickwork.store.sql import (
    SQLStore,
    _aware,
    _check_spec,
    _EventLog,
    _retried,
    _run,
    _schedule,
)
from tickwork.store.sql_overview import SQLOverviewQueries
from tickwork.store.sql_revisions import record_revision

__all__ = ["APISQLMixin"]


class APISQLMixin(SQLOverviewQueries, SQLStore):
    """Tokens, idempotency keys, API-owned schedules, pages, cancel and retry."""

    # -- tokens --------------------------------------------------------------------------

    @_retried
    def add_token(
        self, name: str, token_hash: str, scopes: Sequence[str], now: datetime
    ) -> TokenRow:
        """Insert a token row (see ``TokenStore``); a revoked row of that name is replaced."""
        _aware(now, "now")
        with self._transaction("add a token", write=True) as conn:
            held = conn.execute(
                self._lock(select(tokens).where(tokens.c.name == name), skip_locked=False)
            ).mappings()
            found = held.one_or_none()
            if found is not None and found["revoked_at"] is None:
                raise InvalidSpecError(
                    "name",
                    name,
                    "a token name not in use (revoke the old token first)",
                    message=f"a token named {name!r} exists",
                )
            if found is not None:
                conn.execute(delete(tokens).where(tokens.c.id == found["id"]))
            conn.execute(
                self._dialect_insert(tokens)
                .values(
                    name=name,
                    token_hash=token_hash,
                    scopes=" ".join(scopes),
                    created_at=now,
                    last_used_at=None,
                    revoked_at=None,
                )
                # Two creates of one new name: the second finds the first's row and says so.
                .on_conflict_do_nothing()
            )
            row = conn.execute(select(tokens).where(tokens.c.name == name)).mappings().one()
            if row["token_hash"] != token_hash:
                raise InvalidSpecError(
                    "name",
                    name,
                    "a token name not in use",
                    message=f"a token named {name!r} exists",
                )
            return _token(row)

    @_retried
    def token_by_hash(self, token_hash: str) -> TokenRow | None:
        with self._transaction("read a token", write=False) as conn:
            found = conn.execute(select(tokens).where(tokens.c.token_hash == token_hash))
            row = found.mappings().one_or_none()
        return None if row is None else _token(row)

    @_retried
    def touch_token(self, token_id: int, now: datetime, *, unless_after: datetime) -> None:
        _aware(now, "now")
        _aware(unless_after, "unless_after")
        with self._transaction("record a token's use", write=True) as conn:
            conn.execute(
                update(tokens)
                .where(
                    tokens.c.id == token_id,
                    or_(tokens.c.last_used_at.is_(None), tokens.c.last_used_at <= unless_after),
                )
                .values(last_used_at=now)
            )

    @_retried
    def list_tokens(self) -> list[TokenRow]:
        with self._transaction("list tokens", write=False) as conn:
            rows = conn.execute(select(tokens).order_by(tokens.c.name)).mappings()
            return [_token(r) for r in rows]

    @_retried
    def revoke_token(self, name: str, now: datetime) -> TokenRow | None:
        _aware(now, "now")
        with self._transaction("revoke a token", write=True) as conn:
            conn.execute(
                update(tokens)
                .where(tokens.c.name == name, tokens.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            row = conn.execute(select(tokens).where(tokens.c.name == name)).mappings()
            found = row.one_or_none()
        return None if found is None else _token(found)

    # -- schedules owned by the API ------------------------------------------------------

    @_retried
    def change_api_schedules(
        self, changes: Sequence[ScheduleChange], now: datetime, *, applied_by: str = "api"
    ) -> list[ScheduleRow | None]:
        """Create, update or retire API schedules, all in one transaction (see ``APIStore``).

        A create of a name the API retired earlier brings that schedule back (same id, its
        history kept, version + 1). Specs are checked like ``sync_schedules`` before anything
        is written."""
        _aware(now, "now")
        for change in changes:
            if change.upsert is not None:
                _aware(change.upsert.anchor, "anchor")
                _check_spec(change.name, change.upsert.spec)
        out: list[ScheduleRow | None] = []
        with self._transaction("change API schedules", write=True) as conn:
            self._take_turn(conn, "sync_schedules")  # a create inserts a row no lock covers
            before: dict[str, dict[str, Any]] = {}
            after: dict[str, dict[str, Any]] = {}
            summary: dict[str, list[str]] = {"added": [], "changed": [], "retired": []}
            for change in changes:
                old = self._definition(conn, change.name)
                out.append(self._change(conn, change, now))
                new = self._definition(conn, change.name)
                if old == new:
                    continue
                if old is not None:
                    before[change.name] = old
                if new is not None:
                    after[change.name] = new
                kind = "added" if old is None else "retired" if new is None else "changed"
                summary[kind].append(change.name)
            # The same revision history as config applies (promise: every change recorded).
            record_revision(
                conn,
                before=before,
                after=after,
                summary=summary,
                applied_by=applied_by,
                source="api",
                now=now,
            )
        return out

    def _definition(self, conn: Connection, name: str) -> dict[str, Any] | None:
        """What a revision records of a live schedule; None when absent or retired."""
        stmt = select(schedules.c.spec, schedules.c.source).where(
            schedules.c.name == name, schedules.c.retired.is_(False)
        )
        found = conn.execute(stmt).mappings().one_or_none()
        return None if found is None else {"spec": found["spec"], "source": found["source"]}

    def _change(
        self, conn: Connection, change: ScheduleChange, now: datetime
    ) -> ScheduleRow | None:
        stmt = select(schedules).where(schedules.c.name == change.name)
        found = conn.execute(self._lock(stmt, skip_locked=False)).mappings().one_or_none()
        row = None if found is None else _schedule(found)
        upsert = change.upsert
        if change.create:
            assert upsert is not None
            if row is not None and (row.source != "api" or not row.retired):
                raise ScheduleConflictError(change.name, row.source, "api")
            if row is None:
                conn.execute(
                    schedules.insert().values(
                        name=change.name,
                        spec=upsert.spec,
                        source="api",
                        paused=False,
                        retired=False,
                        next_fire_at=upsert.next_fire_at,
                        last_fire_at=None,
                        anchor=upsert.anchor,
                        created_at=now,
                        updated_at=now,
                        version=1,
                    )
                )
            else:
                self._rewrite(
                    conn,
                    row,
                    {
                        "spec": upsert.spec,
                        "retired": False,
                        "paused": False,
                        "next_fire_at": upsert.next_fire_at,
                        "anchor": upsert.anchor,
                    },
                    now,
                )
            return self._schedule_named(conn, change.name)
        if row is None or row.retired:
            raise ScheduleNotFoundError(change.name)
        if row.source != "api":
            raise NotPermittedError(
                f"schedule {row.name!r} is defined in {row.source}, which stays its source of "
                "truth; through the API it can only be paused, resumed and triggered",
                "a schedule created through the API",
                field="name",
                got=row.source,
            )
        if change.expect_version is not None and row.version != change.expect_version:
            raise StateConflictError(
                f"schedule {row.name!r} changed since it was read (version {row.version})",
                f"version {change.expect_version} (read it again, then repeat the change)",
                field="If-Match",
                got=row.version,
            )
        if upsert is None:
            self._rewrite(conn, row, {"retired": True}, now)
            return None
        if _check_spec(row.name, row.spec) != _check_spec(row.name, upsert.spec):
            values = {
                "spec": upsert.spec,
                "next_fire_at": upsert.next_fire_at,
                "anchor": upsert.anchor,
            }
            self._rewrite(conn, row, values, now)
        return self._schedule_named(conn, change.name)

    def _rewrite(
        self, conn: Connection, row: ScheduleRow, values: dict[str, Any], now: datetime
    ) -> None:
        result = conn.execute(
            update(schedules)
            .where(schedules.c.id == row.id, schedules.c.version == row.version)
            .values(**values, updated_at=now, version=schedules.c.version + 1)
        )
        if result.rowcount != 1:  # the row is locked, so only a bug gets here
            raise StateConflictError(
                f"schedule {row.name!r} changed while it was being changed", "one writer at a time"
            )

    def _schedule_named(self, conn: Connection, name: str) -> ScheduleRow:
        found = conn.execute(select(schedules).where(schedules.c.name == name)).mappings().one()
        return _schedule(found)

    @_retried
    def schedule_page(
        self,
        *,
        after: str | None,
        limit: int,
        source: str | None = None,
        paused: bool | None = None,
        include_retired: bool = False,
        prefix: str | None = None,
    ) -> SchedulePage:
        """One page of schedules by name (keyset on the unique name: no duplicate or miss
        across pages, whatever is added or removed meanwhile)."""
        stmt, params = _page("rows", after, limit, source, paused, include_retired, prefix)
        with self._transaction("list schedules", write=False) as conn:
            rows = [_schedule(r) for r in conn.execute(stmt, params).mappings()]
        return SchedulePage(tuple(rows[:limit]), more=len(rows) > limit)

    @_retried
    def schedule_page_keyed(
        self,
        *,
        after: str | None,
        limit: int,
        source: str | None = None,
        paused: bool | None = None,
        include_retired: bool = False,
        prefix: str | None = None,
        known: Container[Hashable] = (),
    ) -> KeyedSchedulePage:
        """``schedule_page`` by keys (see ``APIStore``): the keys alone first; then, only
        when one is not in ``known``, the page again as rows with their keys (those rows,
        not the first read's, may have changed in between: each row goes with its own key)."""
        where = (after, limit, source, paused, include_retired, prefix)
        stmt, params = _page("keys", *where)
        with self._transaction("list schedules", write=False) as conn:
            keys = [tuple(r) for r in conn.execute(stmt, params)]
            if all(key in known for key in keys[:limit]):
                rows = None
            else:
                found = conn.execute(_page("both", *where)[0], params).all()
                keys = [tuple(r[_KEY_AT:]) for r in found]
                rows = tuple(_schedule(r._mapping) for r in found[:limit])
        return KeyedSchedulePage(
            keys=tuple(keys[:limit]),
            names=tuple(key[_NAME_AT] for key in keys[:limit]),
            rows=rows,
            more=len(keys) > limit,
        )

    # -- idempotency keys ----------------------------------------------------------------

    @_retried
    def trigger_idempotent(
        self,
        name: str,
        now: datetime,
        *,
        principal: str,
        route: str,
        key: str,
        request_hash: str,
        respond: Callable[[Run], tuple[int, Any]],
    ) -> IdempotentOutcome:
        """Trigger once per key (see ``APIStore``). The key row goes in first: on PostgreSQL
        a second transaction inserting the same key waits on the primary key until the first
        commits, then inserts nothing and reads the stored answer; on SQLite ``BEGIN
        IMMEDIATE`` already puts them one after the other."""
        _aware(now, "now")
        ident = {"principal": principal, "route": route, "key": key}
        with self._transaction("trigger a run once per idempotency key", write=True) as conn:
            inserted = conn.execute(
                self._dialect_insert(idempotency_keys)
                .values(
                    **ident, request_hash=request_hash, status_code=0, response=None, created_at=now
                )
                .on_conflict_do_nothing()
                .returning(idempotency_keys.c.key)
            ).scalar_one_or_none()
            if inserted is None:
                return IdempotentOutcome(None, self._stored(conn, ident))
            run = self._trigger(conn, name, now, "manual")
            status, body = respond(run)
            conn.execute(
                update(idempotency_keys)
                .where(*(idempotency_keys.c[k] == v for k, v in ident.items()))
                .values(status_code=status, response=body)
            )
            return IdempotentOutcome(run, None)

    @_retried
    def stored_response(self, principal: str, route: str, key: str) -> StoredResponse | None:
        with self._transaction("read an idempotency key", write=False) as conn:
            return self._stored(conn, {"principal": principal, "route": route, "key": key})

    @_retried
    def remember_response(
        self,
        principal: str,
        route: str,
        key: str,
        response: StoredResponse,
        now: datetime,
    ) -> StoredResponse:
        """Keep the first answer to a key; when another request stored one first, that one
        is kept and returned."""
        _aware(now, "now")
        ident = {"principal": principal, "route": route, "key": key}
        with self._transaction("store an idempotent answer", write=True) as conn:
            conn.execute(
                self._dialect_insert(idempotency_keys)
                .values(
                    **ident,
                    request_hash=response.request_hash,
                    status_code=response.status_code,
                    response=response.body,
                    created_at=now,
                )
                .on_conflict_do_nothing()
            )
            stored = self._stored(conn, ident)
        assert stored is not None
        return stored

    @_retried
    def forget_idempotency_keys(self, created_before: datetime, batch: int = 1000) -> int:
        """Delete up to ``batch`` stored answers created before the instant (oldest first);
        how many were deleted. Call again while it returns ``batch``."""
        _aware(created_before, "created_before")
        if batch <= 0:
            raise InvalidSpecError("batch", batch, "a positive number of keys per transaction")
        c = idempotency_keys.c
        oldest = (
            select(c.principal, c.route, c.key)
            .where(c.created_at < created_before)
            .order_by(c.created_at)
            .limit(batch)
        )
        with self._transaction("forget old idempotency keys", write=True) as conn:
            found = conn.execute(oldest).all()
            for principal, route, key in found:
                conn.execute(
                    delete(idempotency_keys).where(
                        c.principal == principal, c.route == route, c.key == key
                    )
                )
        return len(found)

    def _stored(self, conn: Connection, ident: dict[str, str]) -> StoredResponse | None:
        found = (
            conn.execute(
                select(idempotency_keys).where(
                    *(idempotency_keys.c[k] == v for k, v in ident.items())
                )
            )
            .mappings()
            .one_or_none()
        )
        if found is None:
            return None
        return StoredResponse(found["request_hash"], found["status_code"], found["response"])

    # -- cancel and retry ----------------------------------------------------------------

    @_retried
    def cancel_run(self, run_id: int, now: datetime, reason: str) -> Run:
        """Cancel a waiting or running run (see ``APIStore``): one conditional update on the
        state read, event ``run_cancelled`` with the reason."""
        _aware(now, "now")
        with self._transaction("cancel a run", write=True) as conn:
            run = self._locked_run(conn, run_id)
            if run.state not in WAITING_STATES and run.state is not RunState.running:
                raise StateConflictError(
                    f"run {run_id} is already {run.state.value}",
                    "a queued, retrying or running run",
                    got=run.state.value,
                )
            conn.execute(
                update(runs)
                .where(runs.c.id == run_id, runs.c.state == run.state.value)
                .values(
                    state=RunState.cancelled.value,
                    lease_owner=None,
                    lease_expires_at=None,
                    finished_at=now,
                    error=reason,
                )
            )
            log = _EventLog(now)
            detail = {"reason": reason, "was": run.state.value}
            if run.lease_owner is not None:
                detail["worker"] = run.lease_owner
            log.add(run_id, events.RUN_CANCELLED, RunState.cancelled, run.attempt, detail)
            log.write(conn)
            return self._runs_by_id(conn, [run_id])[0]

    @_retried
    def retry_run(self, run_id: int, now: datetime) -> Run:
        """Queue a failed, timed-out or cancelled run again (see ``APIStore``), event
        ``run_retry_requested``. The run's schedule must not be retired."""
        _aware(now, "now")
        with self._transaction("retry a run", write=True) as conn:
            run = self._locked_run(conn, run_id)
            if run.state not in RETRYABLE_STATES:
                raise StateConflictError(
                    f"run {run_id} is {run.state.value}",
                    "a failed, timed_out or cancelled run (one that is waiting or running "
                    "retries on its own; one that succeeded or was never run stays as it is)",
                    got=run.state.value,
                )
            retired = conn.execute(
                select(schedules.c.retired).where(schedules.c.id == run.schedule_id)
            ).scalar_one()
            if retired:
                raise ScheduleNotFoundError(run.schedule)
            # At least one more attempt; a run cancelled before it used its retries keeps them.
            attempts = max(run.max_attempts, run.attempt + 1)
            conn.execute(
                update(runs)
                .where(runs.c.id == run_id, runs.c.state == run.state.value)
                .values(
                    state=RunState.queued.value,
                    due_at=now,
                    max_attempts=attempts,
                    finished_at=None,
                )
            )
            log = _EventLog(now)
            detail = {"was": run.state.value, "max_attempts": attempts}
            log.add(run_id, events.RUN_RETRY_REQUESTED, RunState.queued, run.attempt, detail)
            log.write(conn)
            self._announce_runs(conn)
            return self._runs_by_id(conn, [run_id])[0]

    def _locked_run(self, conn: Connection, run_id: int) -> Run:
        stmt = self._lock(select(runs).where(runs.c.id == run_id), skip_locked=False)
        found = conn.execute(stmt).mappings().one_or_none()
        if found is None:
            raise RunNotFoundError(run_id)
        return _run(found)


RETRYABLE_STATES = frozenset({RunState.failed, RunState.timed_out, RunState.cancelled})
assert RETRYABLE_STATES <= TERMINAL_STATES

# A schedule's key (``KeyedSchedulePage``): every column of the table, the JSON and the
# instants as the database's text (converting those is most of the cost of reading a row;
# PostgreSQL's text of a timestamptz carries its offset, so equal text is an equal instant).
_KEY_COLUMNS = tuple(
    (cast(c, Text) if isinstance(c.type, JSON | UTCDateTime) else c).label(f"key_{c.name}")
    for c in schedules.c
)
_KEY_AT = len(schedules.c)  # where the key begins in a row of ``select(schedules, *keys)``
_NAME_AT = list(schedules.c.keys()).index("name")


def _page(
    columns: str,
    after: str | None,
    limit: int,
    source: str | None,
    paused: bool | None,
    include_retired: bool,
    prefix: str | None,
) -> tuple[Select[Any], dict[str, Any]]:
    """One page of schedules by name (one more row than ``limit``: whether another page
    follows), filtered: the statement (``columns``: "rows", "keys" or "both") and its
    parameters. Statements are built once per shape of the filters: building one, and
    SQLAlchemy's cache key of a new one, cost more than the listing's whole read."""
    if limit <= 0:
        raise InvalidSpecError("limit", limit, "a positive number of schedules per page")
    params: dict[str, Any] = {"limit": limit + 1}
    if after is not None:
        params["after"] = after
    if source is not None:
        params["source"] = source
    if prefix:
        # What ``startswith(prefix, autoescape=True)`` binds: "/" escapes itself, % and _.
        params["prefix"] = prefix.replace("/", "//").replace("%", "/%").replace("_", "/_")
    shape = (after is not None, source is not None, paused, include_retired, bool(prefix))
    return _page_statement(columns, *shape), params


@functools.cache  # 3 sets of columns x 48 shapes of the filters: 144 at most
def _page_statement(
    columns: str, after: bool, source: bool, paused: bool | None, retired: bool, prefix: bool
) -> Select[Any]:
    chosen = {"rows": (schedules,), "keys": _KEY_COLUMNS, "both": (schedules, *_KEY_COLUMNS)}
    c = schedules.c
    stmt = select(*chosen[columns]).order_by(c.name).limit(bindparam("limit", type_=Integer))
    if after:
        stmt = stmt.where(c.name > bindparam("after", type_=String))
    if source:
        stmt = stmt.where(c.source == bindparam("source", type_=String))
    if paused is not None:
        stmt = stmt.where(c.paused.is_(paused))
    if not retired:
        stmt = stmt.where(c.retired.is_(False))
    if prefix:
        stmt = stmt.where(c.name.startswith(bindparam("prefix", type_=String), escape="/"))
    return stmt


def _token(r: RowMapping) -> TokenRow:
    return TokenRow(
        id=r["id"],
        name=r["name"],
        token_hash=r["token_hash"],
        scopes=tuple(r["scopes"].split()),
        created_at=r["created_at"],
        last_used_at=r["last_used_at"],
        revoked_at=r["revoked_at"],
    )
