"""PostgreSQL store: one database shared by processes on many hosts (psycopg 3).

What differs from SQLite, each a named hook of ``SQLStore`` or a capability of this class:

- Row locks instead of one writer: due schedules and expired leases are read with
  ``FOR NO KEY UPDATE SKIP LOCKED`` (``_lock``), so schedulers and reapers split the work
  instead of queueing behind each other; a fenced write locks its run. Claimers of one
  schedule take turns on an advisory lock they try and skip (``_claim_page``), so claims
  never wait for a scheduler that holds the schedule's row.
- ``INSERT … ON CONFLICT DO NOTHING`` on the unique key (``_dialect_insert``): promise 1.
- READ COMMITTED; reads in autocommit (``_read_options``: each statement of a READ
  COMMITTED transaction has its own snapshot anyway). A deadlock or serialization failure
  (SQLSTATE 40P01, 40001) and a connection lost before COMMIT are rolled back by the
  server, so the transaction runs again (``_retry_reason``, ``SQLStore._retried``); other
  connection failures (refused, server shut down, 57P01) are ``StoreUnavailableError`` and
  the engine backs off.
- ``upgrade`` and ``sync_schedules`` take turns on an advisory lock (``_take_turn``): they
  insert rows that do not exist yet, which no row lock can guard.
- ``NOTIFY tickwork_runs`` in every transaction that makes runs claimable
  (``_announce_runs``, delivered on commit); ``listen(callback)`` wakes a process's engine
  (a ``ListeningStore``). Polling stays: a lost notification costs latency, never a run.
- ``database_now()`` reads the server's clock (a ``TimekeepingStore``), which
  ``tickwork.clock.DatabaseClock`` follows so that hosts whose clocks disagree agree on ``now``.
- No server-side prepared statements (``prepare_threshold=None``): a bound ``now`` in an
  auto-prepared statement may get a generic plan (DESIGN.md, engine sketch); every statement
  is planned with its parameters. ``tests/contract/test_postgres_store.py`` shows the claim's
  plan after many executions.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from sqlalchemy import (
    JSON,
    BigInteger,
    BindParameter,
    Integer,
    Select,
    String,
    Table,
    bindparam,
    cast,
    column,
    create_engine,
    func,
    literal,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from tickwork import events
from tickwork.errors import InvalidSpecError
from tickwork.model import RunState
from tickwork.store.schema import (
    EVENT_COLUMNS,
    NAIVE_INSTANT,
    NEW_RUN_COLUMNS,
    UTCDateTime,
    run_events,
    runs,
)
from tickwork.store.sql import _START_RUNS, BULK_EVENTS, _retried
from tickwork.store.sql_api import APISQLMixin
from tickwork.store.sql_finish import _FINISH, FinishingSQLStore

__all__ = ["CHANNEL", "PostgresStore", "postgres_url"]

log = logging.getLogger("tickwork.store")

CHANNEL = "tickwork_runs"  # NOTIFY channel; the payload is the schema the runs are in
CLAIM_LOCK = "/claim"  # advisory locks of claims: (hash of schema + this, schedule id)
SCHEMES = ("postgresql://user:password@host:port/database", "postgresql+psycopg://…")
DEFAULT_CONNECT_TIMEOUT = 5  # seconds; libpq waits forever for an unreachable host otherwise
_RETRY_STATES = {
    "40001": "serialization failure",
    "40P01": "deadlock detected",
}
LISTEN_POLL = 0.5  # seconds between checks of the stop flag while waiting for notifications
LISTEN_BACKOFF_MAX = 30.0


class PostgresStore(APISQLMixin, FinishingSQLStore):
    """The store on a PostgreSQL database:
    ``PostgresStore("postgresql://tickwork:secret@db.internal/tickwork")``.

    ``connections`` sizes the pool: the threads of this process that use the store at once
    (a worker's concurrency, the loop, a clock read); two more open when busy, and a
    ``listen`` thread has a connection of its own. A pooled connection the server closed
    (restart, ``pg_terminate_backend``) is found by its first statement and the transaction
    runs again on a new one. The tables live in the connection's ``search_path``: pass
    ``?options=-csearch_path%3Dmyschema`` to keep them in a schema of their own.
    """

    # Row locks, not a database lock: a pass that finds nothing costs its one query and a
    # COMMIT, and one that finds work (a fire, a run to claim) is spared a round trip.
    probe_before_write = False

    def __init__(self, url: str, *, connections: int = 5) -> None:
        parsed = postgres_url(url)
        self._connect_args: dict[str, Any] = {"prepare_threshold": None}
        if "connect_timeout" not in parsed.query:
            self._connect_args["connect_timeout"] = DEFAULT_CONNECT_TIMEOUT
        if "application_name" not in parsed.query:
            self._connect_args["application_name"] = "tickwork"
        engine = create_engine(
            parsed,
            pool_size=max(1, connections),
            max_overflow=2,  # a little headroom; max_connections is shared by every process
            # No ping on checkout (a round trip per transaction): a connection found dead
            # by its first statement is replaced and the transaction run again
            # (``_retry_reason``), which is what the ping would have done.
            pool_pre_ping=False,
            isolation_level="READ COMMITTED",
            connect_args=self._connect_args,
        )
        self._listeners: set[_Listener] = set()
        self._listeners_guard = threading.Lock()
        where = f"{parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database or ''}"
        super().__init__(engine, label=f"PostgreSQL store at {where}")

    def close(self) -> None:
        with self._listeners_guard:
            listeners, self._listeners = list(self._listeners), set()
        for listener in listeners:
            listener.close()
        super().close()

    # -- dialect hooks -------------------------------------------------------------------

    def _dialect_insert(self, table: Table) -> Any:
        return postgresql_insert(table)

    def _insert_runs(
        self, conn: Connection, rows: Sequence[dict[str, Any]]
    ) -> dict[tuple[int, datetime], int]:
        # The rows as one JSON parameter (``_RUNS_FROM_JSON``), not a multi-row VALUES.
        created: dict[tuple[int, datetime], int] = {}
        if rows:
            found = conn.execute(_RUNS_FROM_JSON, {"rows": _json_rows(rows, NEW_RUN_COLUMNS)})
            for run_id, schedule_id, nominal in found:
                created[(int(schedule_id), nominal)] = int(run_id)
        return created

    def _lock(self, stmt: Select[Any], *, skip_locked: bool) -> Select[Any]:
        # FOR NO KEY UPDATE: the conditional updates that follow see no concurrent change,
        # while inserts referencing the rows (a run of the schedule, an event of the run)
        # need not wait (their foreign-key check takes KEY SHARE). SKIP LOCKED: another
        # scheduler or worker already has those rows; take the next ones.
        return stmt.with_for_update(skip_locked=skip_locked, key_share=True)

    def _read_options(self) -> dict[str, Any]:
        # In READ COMMITTED every statement sees its own snapshot anyway, so a read needs
        # no BEGIN and COMMIT around it (two round trips saved per read).
        return {"isolation_level": "AUTOCOMMIT"}

    def _claim_page(self, groups: Select[Any], size: int | BindParameter[int]) -> Select[Any]:
        # Claimers of one schedule take turns on an advisory lock (held to the end of the
        # transaction), tried as the ordered groups stream past, so one statement gives the
        # next ``size`` schedules no other claimer is deciding for. OFFSET 0 fences the
        # subquery: the planner would otherwise push the lock call down into the grouping
        # and try it on every group; above the sort, LIMIT stops it after ``size``. Not the
        # schedule row's lock: a scheduler holds that while it enqueues a batch, and claims
        # would skip the whole batch meanwhile.
        due = groups.offset(0).subquery("due")
        mine = func.pg_try_advisory_xact_lock(
            func.hashtext(func.coalesce(func.current_schema(), "") + CLAIM_LOCK),
            cast(func.mod(due.c.schedule_id, 2147483647), Integer),
        )
        return select(due.c.schedule_id, due.c.first_due, due.c.key).where(mine).limit(size)

    def _start_runs(self) -> tuple[Any, bool]:
        # One round trip instead of two: the events are inserted by the same statement, in
        # a data-modifying CTE over the rows the UPDATE started.
        return _START_RUNS_LOGGED, True

    def _finish_statement(self) -> tuple[Any, bool]:
        # One round trip instead of two: the events go in with the UPDATE (a CTE).
        return _FINISH_LOGGED, True

    def _unavailable_reason(self, exc: DBAPIError) -> str | None:
        orig = exc.orig
        if isinstance(orig, pg_errors.ReadOnlySqlTransaction):
            return "the server is read-only (a standby after a failover?)"
        if exc.connection_invalidated:
            return f"the connection to the server was lost ({_summary(orig)})"
        if isinstance(orig, psycopg.OperationalError | psycopg.InterfaceError):
            return _summary(orig)  # refused, timed out, shutting down, too many clients
        return None

    def _retry_reason(self, exc: DBAPIError, *, at_commit: bool) -> str | None:
        state = getattr(exc.orig, "sqlstate", None)
        if state in _RETRY_STATES:
            return _RETRY_STATES[str(state)]
        if exc.connection_invalidated and not at_commit:
            # The server rolls back a transaction whose connection died before COMMIT; the
            # pool was emptied, so the next attempt gets a new connection. A failure during
            # COMMIT is not retried: the transaction may have committed.
            return "the connection was lost mid-transaction"
        return None

    def _take_turn(self, conn: Connection, topic: str) -> None:
        # Two keys: the schema (deployments in other schemas do not wait) and the topic.
        conn.execute(
            text(
                "SELECT pg_advisory_xact_lock("
                "hashtext(coalesce(current_schema(), '')), hashtext(:topic))"
            ),
            {"topic": f"tickwork:{topic}"},
        )

    def _announce_runs(self, conn: Connection) -> None:
        conn.execute(
            text("SELECT pg_notify(:channel, coalesce(current_schema(), ''))"), {"channel": CHANNEL}
        )

    # -- capabilities --------------------------------------------------------------------

    @_retried
    def database_now(self) -> datetime:
        """The database server's clock (``clock_timestamp()``), aware UTC. Raises
        ``StoreUnavailableError`` when the server cannot be reached."""
        with self._transaction("read the database clock", write=False) as conn:
            value = conn.execute(select(func.clock_timestamp())).scalar_one()
        assert isinstance(value, datetime)
        return value.astimezone(UTC)

    def listen(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` (from a daemon thread) whenever runs of this schema became
        claimable, and once after each reconnect (notifications sent meanwhile are lost).

        The thread has its own connection doing ``LISTEN tickwork_runs``; it reconnects with
        backoff and never raises into the caller. Returns a function that stops it (also
        called by ``close``).
        """
        _args, params = self._engine.dialect.create_connect_args(self._engine.url)
        params.pop("context", None)  # SQLAlchemy's adapters; a plain connection needs none
        listener = _Listener({**params, **self._connect_args}, callback, self._label)
        with self._listeners_guard:
            self._listeners.add(listener)
        listener.start()

        def stop() -> None:
            with self._listeners_guard:
                self._listeners.discard(listener)
            listener.close()

        return stop


class _Listener:
    """``LISTEN`` on a connection of its own, in a daemon thread; see ``listen``."""

    def __init__(self, params: dict[str, Any], callback: Callable[[], None], label: str) -> None:
        self._params = {**params, "autocommit": True}
        self._params.pop("prepare_threshold", None)
        self._callback = callback
        self._label = label
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tickwork-listen", daemon=True)
        self.backend_pid: int | None = None  # the server process listening, while connected

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(LISTEN_POLL * 4 + DEFAULT_CONNECT_TIMEOUT)

    def _run(self) -> None:
        backoff = 0.5
        failing = False
        connected_before = False
        while not self._stop.is_set():
            try:
                with psycopg.connect(**self._params) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    row = conn.execute("SELECT coalesce(current_schema(), '')").fetchone()
                    schema = row[0] if row else ""
                    self.backend_pid = conn.info.backend_pid
                    if failing:
                        log.info(
                            "listening for new runs again",
                            extra={"action": events.STORE_LISTENING},
                        )
                    if connected_before or failing:
                        self._notify()  # whatever was announced while we were away
                    failing, connected_before, backoff = False, True, 0.5
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=LISTEN_POLL):
                            if note.payload == schema:
                                self._notify()
            except psycopg.Error as err:
                self.backend_pid = None
                if not failing:  # once per outage, like the engine
                    log.warning(
                        "%s: lost the LISTEN connection (%s); polling until it is back",
                        self._label,
                        _summary(err),
                        extra={"action": events.STORE_LISTEN_LOST},
                    )
                failing = True
            except Exception:  # never let the thread die: polling must not be the only way
                self.backend_pid = None
                log.exception("%s: LISTEN thread error", self._label)
                failing = True
            if self._stop.wait(backoff):
                return
            backoff = min(backoff * 2, LISTEN_BACKOFF_MAX)

    def _notify(self) -> None:
        try:
            self._callback()
        except Exception:
            log.exception("%s: listen callback failed", self._label)


_STARTED = _START_RUNS.cte("started")
_CLAIMED_EVENTS = (
    postgresql_insert(run_events)
    .from_select(
        ["run_id", "at", "event", "state", "attempt", "detail"],
        select(
            _STARTED.c.id,
            _STARTED.c.started_at,
            literal(events.RUN_CLAIMED),
            literal(RunState.running.value),
            _STARTED.c.attempt,
            func.json_build_object(
                "worker",
                cast(bindparam("worker"), String),
                "lease_expires_at",
                cast(bindparam("expires_text"), String),
            ),
        ),
    )
    .cte("claimed_events")
)
# ``_START_RUNS`` that also writes each started run's ``run_claimed`` event (the detail the
# other stores write in Python: the worker and the lease's expiry as ISO text).
_START_RUNS_LOGGED = select(_STARTED).add_cte(_CLAIMED_EVENTS)


_FINISHED = _FINISH.cte("finished")
_DETAILS = (
    func.json_to_recordset(bindparam("details", type_=JSON()))
    .table_valued(column("run_id", BigInteger), column("detail", JSON))
    .render_derived(name="d", with_types=True)
)
_FINISHED_EVENTS = (
    postgresql_insert(run_events)
    .from_select(
        ["run_id", "at", "event", "state", "attempt", "detail"],
        select(
            _FINISHED.c.id,
            bindparam("event_at", type_=UTCDateTime()),
            cast(bindparam("event"), String),
            cast(bindparam("state"), String),
            _FINISHED.c.attempt,
            _DETAILS.c.detail,
        ).join_from(_FINISHED, _DETAILS, _DETAILS.c.run_id == _FINISHED.c.id),
    )
    .cte("finished_events")
)
# ``_FINISH`` that also writes the event of each row it updates, each with its own detail.
_FINISH_LOGGED = select(_FINISHED.c.id, _FINISHED.c.attempt).add_cte(_FINISHED_EVENTS)


# Many rows in one statement as one JSON parameter, read by json_to_recordset: psycopg
# parses a statement's placeholders again whenever it cannot cache it (more than 50
# parameters), and a multi-row VALUES of 500 runs (5,500 placeholders) spent ~70 us a row
# in that parse, more than the server spent inserting it.
def _recordset(table: Table, columns: Sequence[str]) -> Any:
    types = {c.name: c.type for c in table.columns}
    return (
        func.json_to_recordset(bindparam("rows", type_=JSON()))
        .table_valued(*(column(name, types[name]) for name in columns))
        .render_derived(name="r", with_types=True)
    )


_RUN_ROWS = _recordset(runs, NEW_RUN_COLUMNS)
_RUNS_FROM_JSON = (
    postgresql_insert(runs)
    .from_select(list(NEW_RUN_COLUMNS), select(*(_RUN_ROWS.c[name] for name in NEW_RUN_COLUMNS)))
    .on_conflict_do_nothing(index_elements=["schedule_id", "nominal_fire"])
    .returning(runs.c.id, runs.c.schedule_id, runs.c.nominal_fire)
)
_EVENT_ROWS = _recordset(run_events, EVENT_COLUMNS)
_EVENTS_FROM_JSON = postgresql_insert(run_events).from_select(
    list(EVENT_COLUMNS), select(*(_EVENT_ROWS.c[name] for name in EVENT_COLUMNS))
)


def _json_rows(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> list[dict[str, Any]]:
    """``rows`` with their instants as ISO text (json_to_recordset reads them as
    timestamptz); a naive instant is refused as ``UTCDateTime`` refuses it."""
    out = []
    for row in rows:
        item = {}
        for name in columns:
            value = row.get(name)
            if isinstance(value, datetime):
                if value.tzinfo is None:
                    raise ValueError(NAIVE_INSTANT)
                value = value.isoformat()
            item[name] = value
        out.append(item)
    return out


def _insert_events(conn: Connection, rows: list[dict[str, Any]]) -> None:
    conn.execute(_EVENTS_FROM_JSON, {"rows": _json_rows(rows, EVENT_COLUMNS)})


BULK_EVENTS["postgresql"] = _insert_events


def postgres_url(url: str) -> URL:
    """``url`` as a SQLAlchemy URL for psycopg 3 (``postgresql://`` is rewritten to
    ``postgresql+psycopg://``), or ``InvalidSpecError`` for another driver."""
    expected = "a PostgreSQL URL: " + " or ".join(SCHEMES)
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise InvalidSpecError("database_url", "<unparsable URL>", expected) from exc
    shown = parsed.render_as_string(hide_password=True)  # never put a password in an error
    if parsed.drivername not in ("postgresql", "postgresql+psycopg"):
        raise InvalidSpecError(
            "database_url",
            shown,
            expected,
            message=f"unsupported PostgreSQL URL {shown!r} (tickwork uses the psycopg 3 driver)",
        )
    return parsed.set(drivername="postgresql+psycopg")


def _summary(err: BaseException | None) -> str:
    """The first line of a driver error: what failed, without libpq's hints."""
    text_ = str(err).strip().splitlines()
    return text_[0] if text_ else type(err).__name__
