"""Revisions in SQL (``RevisionStore``): schedule changes applied and recorded together.

``SQLRevisions`` is a mixin of ``SQLStore``: it uses the store's transactions and dialect
hooks (``_transaction``, ``_take_turn``, ``_lock``) and its shared helpers, looked up in
``tickwork.store.sql`` when called (that module imports this one first).

Race freedom of ``expect_revision``: the transaction first takes the same turn as
``sync_schedules`` (PostgreSQL: an advisory lock; SQLite: ``BEGIN IMMEDIATE`` already
serialises writers), then reads the latest revision number and inserts latest + 1. The
second of two applies made against revision N waits for the first, then reads N + 1 and
refuses. The primary key on the number would refuse a duplicate anyway.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from types import ModuleType
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from sqlalchemy import Select, func, select, update
from sqlalchemy.engine import Connection, RowMapping

from tickwork.errors import InvalidSpecError, RevisionConflictError, ScheduleConflictError
from tickwork.store.base import DefinitionChange, Revision
from tickwork.store.schema import revisions, schedules

__all__ = ["REVISION_SOURCES", "SQLRevisions", "record_revision"]

# What made a revision: config sync at start, code sync at start, `tickwork apply`,
# `tickwork rollback`, the HTTP API.
REVISION_SOURCES = ("sync", "python", "apply", "rollback", "api")


class _Host(Protocol):
    """What the mixin needs of ``SQLStore``."""

    def _transaction(self, action: str, *, write: bool) -> AbstractContextManager[Connection]: ...

    def _take_turn(self, conn: Connection, topic: str) -> None: ...

    def _lock(self, stmt: Select[Any], *, skip_locked: bool) -> Select[Any]: ...


def _shared() -> ModuleType:
    """``tickwork.store.sql``, imported when first used: it imports this module."""
    from tickwork.store import sql

    return sql


H = TypeVar("H", bound=_Host)
P = ParamSpec("P")
R = TypeVar("R")


def _retried(method: Callable[Concatenate[H, P], R]) -> Callable[Concatenate[H, P], R]:
    """``tickwork.store.sql._retried``, looked up at call time."""

    @functools.wraps(method)
    def call(self: H, /, *args: P.args, **kwargs: P.kwargs) -> R:
        result: R = _shared()._retried(method)(self, *args, **kwargs)
        return result

    return call


class SQLRevisions:
    """``RevisionStore`` over the tables ``tw_schedules`` and ``tw_revisions``."""

    @_retried
    def apply_revision(
        self: _Host,
        changes: Sequence[DefinitionChange],
        *,
        applied_by: str,
        source: str,
        now: datetime,
        expect_revision: int | None = None,
    ) -> Revision | None:
        """Apply ``changes`` and record revision latest + 1 in one transaction (see
        ``RevisionStore``). Bad input (unknown source, a name twice, a spec the store
        cannot act on, a new spec without an anchor, naive instants) raises
        ``InvalidSpecError`` before anything is written."""
        _sql = _shared()
        _sql._aware(now, "now")
        if source not in REVISION_SOURCES:
            raise InvalidSpecError("source", source, "one of " + ", ".join(REVISION_SOURCES))
        if expect_revision is not None and expect_revision < 0:
            raise InvalidSpecError("expect_revision", expect_revision, "a revision number >= 0")
        canonical = _checked(changes)
        names = [c.name for c in changes]
        with self._transaction("apply a revision", write=True) as conn:
            self._take_turn(conn, "sync_schedules")  # the turn sync takes: one writer of names
            stmt = select(schedules).where(schedules.c.name.in_(names))
            found = conn.execute(self._lock(stmt, skip_locked=False)).mappings()
            rows = {r["name"]: r for r in found}
            before: dict[str, dict[str, Any]] = {}
            after: dict[str, dict[str, Any]] = {}
            summary: dict[str, list[str]] = {"added": [], "changed": [], "retired": []}
            for change in changes:
                row = rows.get(change.name)
                if row is not None and row["source"] != change.source:
                    raise ScheduleConflictError(change.name, row["source"], change.source)
                kind = _write(conn, change, row, canonical.get(change.name), now)
                if kind is None:
                    continue
                summary[kind].append(change.name)
                if kind != "added":
                    assert row is not None
                    before[change.name] = {"spec": row["spec"], "source": row["source"]}
                if change.spec is not None:
                    after[change.name] = {"spec": change.spec, "source": change.source}
            return record_revision(
                conn,
                before=before,
                after=after,
                summary=summary,
                applied_by=applied_by,
                source=source,
                now=now,
                expect_revision=expect_revision,
            )

    @_retried
    def latest_revision(self: _Host) -> int:
        with self._transaction("read the latest revision", write=False) as conn:
            return _latest(conn)

    @_retried
    def get_revision(self: _Host, number: int) -> Revision | None:
        with self._transaction("read a revision", write=False) as conn:
            row = conn.execute(select(revisions).where(revisions.c.number == number)).mappings()
            found = row.one_or_none()
        return None if found is None else _revision(found)

    @_retried
    def list_revisions(
        self: _Host, *, after: int = 0, before: int | None = None, limit: int = 100
    ) -> list[Revision]:
        stmt = select(revisions).where(revisions.c.number > after)
        if before is not None:
            stmt = stmt.where(revisions.c.number < before)
        stmt = stmt.order_by(revisions.c.number.desc()).limit(limit)
        with self._transaction("list revisions", write=False) as conn:
            return [_revision(r) for r in conn.execute(stmt).mappings()]


def record_revision(
    conn: Connection,
    *,
    before: dict[str, dict[str, Any]],
    after: dict[str, dict[str, Any]],
    summary: dict[str, list[str]],
    applied_by: str,
    source: str,
    now: datetime,
    expect_revision: int | None = None,
) -> Revision | None:
    """Record schedule changes just written in ``conn``'s write transaction as revision
    latest + 1, for any store method that changes definitions (``apply_revision``, the
    API's). The transaction must already hold the ``sync_schedules`` turn
    (``_take_turn``), which makes the number and the ``expect_revision`` check race-free.
    ``RevisionConflictError`` when the latest revision is not ``expect_revision`` (the
    caller's transaction then rolls back: nothing changed). None, nothing written, when
    ``before`` and ``after`` are both empty."""
    latest = _latest(conn)
    if expect_revision is not None and latest != expect_revision:
        raise RevisionConflictError(expect_revision, latest)
    if not before and not after:
        return None
    revision = Revision(latest + 1, now, applied_by[:500], source, before, after, summary)
    conn.execute(
        revisions.insert().values(
            number=revision.number,
            applied_at=now,
            applied_by=revision.applied_by,
            source=source,
            before=before,
            after=after,
            summary=summary,
        )
    )
    return revision


def _checked(changes: Sequence[DefinitionChange]) -> dict[str, str]:
    """The canonical JSON of each new spec; ``InvalidSpecError`` for bad input."""
    _sql = _shared()
    seen: set[str] = set()
    canonical: dict[str, str] = {}
    for change in changes:
        if change.name in seen:
            raise InvalidSpecError("name", change.name, "each schedule name once per revision")
        seen.add(change.name)
        if change.source not in _sql.SOURCES:
            raise InvalidSpecError(
                "source", change.source, "one of " + ", ".join(_sql.SOURCES), source=change.name
            )
        if change.spec is None:
            continue
        if change.anchor is None:
            raise InvalidSpecError(
                "anchor", None, "an aware datetime for a new or changed spec", source=change.name
            )
        _sql._aware(change.anchor, "anchor")
        if change.next_fire_at is not None:
            _sql._aware(change.next_fire_at, "next_fire_at")
        canonical[change.name] = _sql._check_spec(change.name, change.spec)
    return canonical


def _write(
    conn: Connection,
    change: DefinitionChange,
    row: RowMapping | None,
    canonical: str | None,
    now: datetime,
) -> str | None:
    """Write one change against its locked row: "added", "changed", "retired", or None
    when it is already in effect."""
    _sql = _shared()
    active = row is not None and not row["retired"]
    if change.spec is None:
        if not active:
            return None
        assert row is not None
        conn.execute(
            update(schedules)
            .where(schedules.c.id == row["id"])
            .values(retired=True, updated_at=now, version=schedules.c.version + 1)
        )
        return "retired"
    if row is None:
        conn.execute(
            schedules.insert().values(
                name=change.name,
                spec=change.spec,
                source=change.source,
                paused=False,
                retired=False,
                next_fire_at=change.next_fire_at,
                last_fire_at=None,
                anchor=change.anchor,
                created_at=now,
                updated_at=now,
                version=1,
            )
        )
        return "added"
    if active and _sql._canonical(row["spec"]) == canonical:
        return None
    conn.execute(
        update(schedules)
        .where(schedules.c.id == row["id"])
        .values(
            spec=change.spec,
            retired=False,
            next_fire_at=change.next_fire_at,
            anchor=change.anchor,
            updated_at=now,
            version=schedules.c.version + 1,
        )
    )
    return "changed" if active else "added"


def _latest(conn: Connection) -> int:
    value = conn.execute(select(func.coalesce(func.max(revisions.c.number), 0))).scalar_one()
    return int(value)


def _revision(r: RowMapping) -> Revision:
    return Revision(
        number=int(r["number"]),
        applied_at=r["applied_at"],
        applied_by=r["applied_by"],
        source=r["source"],
        before=dict(r["before"] or {}),
        after=dict(r["after"] or {}),
        summary=dict(r["summary"] or {}),
    )
