"""SQLite store: one database file shared by the threads and processes of one machine.

Settings, per connection: WAL (readers never block the writer), ``synchronous=NORMAL`` (safe
with WAL: a power loss may drop the last commits, never corrupt), ``foreign_keys=ON`` and a
busy timeout. Writes run in ``BEGIN IMMEDIATE`` transactions, so a transaction takes the one
write lock before it reads what it will change; reads use a deferred ``BEGIN`` and see one
snapshot. This follows SQLAlchemy's recipe "Using SQLAlchemy to emit BEGIN in lieu of
SQLite's transaction control": pysqlite's own transaction handling is switched off
(``isolation_level = None``) and the ``begin`` event emits the BEGIN.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Select, Table, create_engine, event
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from tickwork.errors import InvalidSpecError, StoreUnavailableError
from tickwork.store import sqlite_bulk
from tickwork.store.sql import BULK_EVENTS
from tickwork.store.sql_api import APISQLMixin
from tickwork.store.sql_finish import FinishingSQLStore

__all__ = ["SQLiteStore"]

BEGIN_OPTION = "tickwork_begin"  # execution option: the BEGIN statement of a transaction
SCHEMES = ("sqlite:///<path>", "sqlite+pysqlite:///<path>")
# Substrings of pysqlite OperationalError messages that mean "not now", with what to say.
_UNAVAILABLE = (
    ("database is locked", "the database is locked by another writer (busy timeout {ms} ms)"),
    ("database table is locked", "a table is locked by another connection"),
    ("database is busy", "the database is busy (busy timeout {ms} ms)"),
    ("disk i/o error", "disk I/O error"),
    ("database or disk is full", "the disk is full"),
    ("unable to open database file", "cannot open the database file"),
    ("attempt to write a readonly database", "the database file is read-only"),
)


class SQLiteStore(APISQLMixin, FinishingSQLStore):
    """The store on a SQLite file: ``SQLiteStore("sqlite:///var/lib/tickwork/tickwork.db")``.

    Safe for the threads of a process (each transaction checks a connection out of the
    pool) and for several processes on one file (SQLite's file lock, ``BEGIN IMMEDIATE``).
    Not for a file on a network share: WAL needs shared memory on one host. The parent
    directory must exist. ``:memory:`` is refused: each connection would get its own empty
    database, and the store uses several connections.
    """

    def __init__(self, url: str, *, busy_timeout_ms: int = 5000) -> None:
        path = sqlite_path(url)
        self._busy_timeout_ms = busy_timeout_ms
        self._turn = _writer_lock(path)
        engine = create_engine(
            url,
            connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False},
        )
        event.listen(engine, "connect", self._on_connect)
        event.listen(engine, "begin", _on_begin)
        super().__init__(engine, label=f"SQLite store at {path}")

    def _on_connect(self, dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to the "begin" event (the SQLAlchemy recipe).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    # -- dialect hooks -------------------------------------------------------------------

    def _dialect_insert(self, table: Table) -> Any:
        return sqlite_insert(table)

    def _insert_runs(
        self, conn: Connection, rows: Sequence[dict[str, Any]]
    ) -> dict[tuple[int, datetime], int]:
        return sqlite_bulk.insert_runs(conn, rows)  # one JSON parameter (sqlite_bulk)

    def _advance_rows(self, conn: Connection, params: list[dict[str, Any]]) -> int:
        return sqlite_bulk.advance_schedules(conn, params)

    def _lock(self, stmt: Select[Any], *, skip_locked: bool) -> Select[Any]:
        # Writes already hold the database's one write lock from BEGIN IMMEDIATE on, so
        # nothing read in a write transaction can change under it; there is nothing to skip.
        return stmt

    def _write_options(self) -> dict[str, Any]:
        return {BEGIN_OPTION: "BEGIN IMMEDIATE"}

    @contextmanager
    def _write_turn(self, action: str) -> Iterator[None]:
        # SQLite has one write lock per file and its busy handler polls for it with sleeps
        # (up to 100 ms each), so threads of one process hammering it starve each other.
        # They queue on a lock of this process instead; other processes still meet at
        # BEGIN IMMEDIATE and its busy timeout.
        if not self._turn.acquire(timeout=self._busy_timeout_ms / 1000):
            raise StoreUnavailableError(
                f"{self._label}: could not {action}: other threads of this process held the "
                f"write lock beyond the busy timeout ({self._busy_timeout_ms} ms); "
                "retrying later can help"
            )
        try:
            yield
        finally:
            self._turn.release()

    def _unavailable_reason(self, exc: DBAPIError) -> str | None:
        message = str(exc.orig).lower()
        for needle, reason in _UNAVAILABLE:
            if needle in message:
                return reason.format(ms=self._busy_timeout_ms)
        return None


BULK_EVENTS["sqlite"] = sqlite_bulk.insert_events

_writer_locks: dict[str, threading.Lock] = {}
_writer_locks_guard = threading.Lock()


def _writer_lock(path: str) -> threading.Lock:
    """The lock the writers of this process share for one database file."""
    key = os.path.realpath(path)
    with _writer_locks_guard:
        return _writer_locks.setdefault(key, threading.Lock())


def _on_begin(conn: Connection) -> None:
    conn.exec_driver_sql(conn.get_execution_options().get(BEGIN_OPTION, "BEGIN"))


def sqlite_path(url: str) -> str:
    """The file path of a ``sqlite:///`` URL, or ``InvalidSpecError`` for one the store
    cannot use (another scheme, no path, an in-memory database)."""
    expected = "a SQLite file URL: " + " or ".join(SCHEMES)
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise InvalidSpecError("database_url", "<unparsable URL>", expected) from exc
    if parsed.drivername not in ("sqlite", "sqlite+pysqlite"):
        shown = parsed.render_as_string(hide_password=True)  # never put a password in an error
        raise InvalidSpecError("database_url", shown, expected)
    database = parsed.database or ""
    memory = (
        database in ("", ":memory:")
        or database.startswith("file::memory:")
        or parsed.query.get("mode") == "memory"
    )
    if memory:
        raise InvalidSpecError(
            "database_url",
            url,
            expected,
            message=(
                f"in-memory SQLite is not supported ({url!r}): every connection would see its "
                "own empty database, and the store uses several (threads, scheduler, worker)"
            ),
        )
    return database
