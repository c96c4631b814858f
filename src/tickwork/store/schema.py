"""Tables (SQLAlchemy Core). The Alembic migrations in ``store/migrations`` create exactly
these; ``tests/contract/test_schema.py`` checks that migrations and metadata agree.

Instants are stored in UTC by ``UTCDateTime`` (naive UTC in SQLite, ``timestamptz`` in
PostgreSQL) and always come back aware.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ColumnElement,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    literal_column,
    text,
)
from sqlalchemy.dialects.sqlite import DATETIME as SQLITE_DATETIME
from sqlalchemy.types import TypeDecorator, TypeEngine

__all__ = [
    "alerts",
    "idempotency_keys",
    "metadata",
    "revisions",
    "run_counts",
    "run_events",
    "runs",
    "schedule_health",
    "schedules",
    "tokens",
    "workers",
]


NAIVE_INSTANT = "naive datetime given to the store; pass aware UTC instants"


def sqlite_instant(value: datetime) -> str:
    """An aware instant as SQLite stores it (``_SQLiteText``): naive UTC text. A naive
    instant is refused (``ValueError``), as ``UTCDateTime`` refuses it."""
    if value.tzinfo is not UTC:
        if value.tzinfo is None:
            raise ValueError(NAIVE_INSTANT)
        value = value.astimezone(UTC)
    return value.isoformat(" ", "microseconds")[:26]  # less "+00:00"


class _SQLiteText(SQLITE_DATETIME):
    """SQLite's DATETIME column, its naive UTC value written by ``isoformat``: the text
    SQLAlchemy's own processor writes (``YYYY-MM-DD HH:MM:SS.ffffff``, so stored values
    compare and sort as before) in two thirds of the time; five instants go into a run."""

    def bind_processor(self, dialect: Dialect) -> Any:
        def process(value: datetime | None) -> str | None:
            return None if value is None else value.isoformat(" ", "microseconds")

        return process


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out; naive input is refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(_SQLiteText(timezone=True))  # type: ignore[no-untyped-call]
        return dialect.type_descriptor(self.impl)

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(NAIVE_INSTANT)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


naming = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=naming)

_STATES = (
    "'queued','running','retrying','succeeded','failed','timed_out',"
    "'cancelled','skipped','missed','shadowed'"
)
WAITING_SQL = "state IN ('queued', 'retrying')"  # runs a claim may start


def off_index(column: Column[Any], dialect: str) -> ColumnElement[Any]:
    """``column`` in a WHERE term the planner must not answer from an index: SQLite's
    unary ``+`` (its documented way); the column itself elsewhere. SQLite picks the
    (state, due_at) index for any state filter, which reads the whole history of runs
    for a term like ``state = 'succeeded'``."""
    if dialect == "sqlite":
        return literal_column(f"+{column.table.name}.{column.name}", column.type)
    return column


RunId = BigInteger().with_variant(Integer(), "sqlite")  # INTEGER PRIMARY KEY = rowid in SQLite

schedules = Table(
    "tw_schedules",
    metadata,
    Column("id", RunId, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("spec", JSON, nullable=False),
    Column("source", String(20), nullable=False),
    Column("paused", Boolean, nullable=False, default=False),
    Column("retired", Boolean, nullable=False, default=False),
    Column("next_fire_at", UTCDateTime, nullable=True),
    Column("last_fire_at", UTCDateTime, nullable=True),
    Column("anchor", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("version", Integer, nullable=False, default=1),
    CheckConstraint("source in ('config','code','api')", name="source"),
    Index(None, "next_fire_at"),
)

runs = Table(
    "tw_runs",
    metadata,
    Column("id", RunId, primary_key=True, autoincrement=True),
    Column("schedule_id", RunId, ForeignKey("tw_schedules.id"), nullable=False),
    Column("schedule", String(200), nullable=False),  # the name, kept for history and filters
    Column("nominal_fire", UTCDateTime, nullable=False),
    Column("due_at", UTCDateTime, nullable=False),
    Column("state", String(20), nullable=False),
    Column("attempt", Integer, nullable=False, default=0),
    Column("max_attempts", Integer, nullable=False, default=1),
    Column("kind", String(20), nullable=False, default="schedule"),
    Column("lease_owner", String(200), nullable=True),
    Column("lease_expires_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime, nullable=True),
    Column("finished_at", UTCDateTime, nullable=True),
    Column("exit_code", Integer, nullable=True),
    Column("error", Text, nullable=True),
    Column("output", Text, nullable=True),
    # Promise 1: one row per (schedule, nominal fire), enforced by the database.
    UniqueConstraint("schedule_id", "nominal_fire"),
    CheckConstraint(f"state in ({_STATES})", name="state"),
    CheckConstraint("attempt >= 0 and max_attempts >= 1", name="attempts"),
    CheckConstraint(
        "(state = 'running') = (lease_owner is not null and lease_expires_at is not null)",
        name="lease",
    ),
    Index(None, "state", "due_at"),
    # Claims read waiting runs in due order; this index holds only those (a few rows, not
    # the history), so a claim's page costs its size. Its WHERE is the claim's, word for word.
    Index(
        "ix_tw_runs_waiting_due",
        "due_at",
        "id",
        sqlite_where=text(WAITING_SQL),
        postgresql_where=text(WAITING_SQL),
    ),
    Index(None, "schedule_id", "state", "id"),
    Index(None, "state", "id"),  # listings by state, newest first
    # Named by hand: the convention would call it ix_tw_runs_schedule_id, read as schedule_id.
    Index("ix_tw_runs_schedule_name_id", "schedule", "id"),
    Index(None, "finished_at"),
)

# The columns a new run is inserted with (``sql._run_values``) and those of a run event
# (``sql._EventLog``): what the dialects' bulk statements send for each row.
NEW_RUN_COLUMNS = (
    "schedule_id",
    "schedule",
    "nominal_fire",
    "due_at",
    "state",
    "attempt",
    "max_attempts",
    "kind",
    "created_at",
    "finished_at",
    "error",
)
EVENT_COLUMNS = ("run_id", "at", "event", "state", "attempt", "detail")

run_events = Table(
    "tw_run_events",
    metadata,
    Column("id", RunId, primary_key=True, autoincrement=True),
    Column("run_id", RunId, ForeignKey("tw_runs.id", ondelete="CASCADE"), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("event", String(40), nullable=False),
    Column("state", String(20), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("detail", JSON, nullable=True),
    Index(None, "run_id", "id"),
)

workers = Table(
    "tw_workers",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("version", String(40), nullable=False),
    Column("roles", String(100), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("heartbeat_at", UTCDateTime, nullable=False),
)

# --- Revision 0002: API tokens and idempotency, schedule revisions, alerts, kept counts ---

tokens = Table(
    "tw_tokens",
    metadata,
    Column("id", RunId, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("token_hash", String(128), nullable=False, unique=True),  # sha256 hex, never the token
    Column("scopes", String(100), nullable=False),  # space-separated: read write admin
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_used_at", UTCDateTime, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
)

idempotency_keys = Table(
    "tw_idempotency_keys",
    metadata,
    Column("principal", String(200), primary_key=True),  # token name (or "local")
    Column("route", String(200), primary_key=True),  # "POST /api/v1/schedules/{name}/trigger"
    Column("key", String(200), primary_key=True),
    Column("request_hash", String(128), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response", JSON, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "created_at"),
)

revisions = Table(
    "tw_revisions",
    metadata,
    Column("number", RunId, primary_key=True, autoincrement=True),
    Column("applied_at", UTCDateTime, nullable=False),
    Column("applied_by", String(500), nullable=False),  # config path, token name, host
    Column("source", String(20), nullable=False),  # sync, apply, rollback, api, python
    Column("before", JSON, nullable=False),  # {name: {"spec":..., "source":..., "paused":...}}
    Column("after", JSON, nullable=False),
    Column("summary", JSON, nullable=False),  # {"added": [...], "changed": [...], "retired": [...]}
)

alerts = Table(
    "tw_alerts",
    metadata,
    Column("id", RunId, primary_key=True, autoincrement=True),
    Column("kind", String(40), nullable=False),  # overdue, run_failed, paused_on_failure
    Column("schedule", String(200), nullable=False),
    Column("run_id", RunId, nullable=True),
    Column("payload", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime, nullable=True),
    Column("failed_at", UTCDateTime, nullable=True),  # gave up after the last retry
    Column("last_error", Text, nullable=True),
    # Revision 0003: the fire an alert is about (a run's nominal fire, the first overdue
    # fire); several schedulers insert one alert per (kind, schedule, fire).
    Column("fire", UTCDateTime, nullable=True),
    Index(None, "delivered_at", "next_attempt_at"),
    Index(None, "schedule", "kind"),
    Index("uq_tw_alerts_kind_schedule_fire", "kind", "schedule", "fire", unique=True),
)

run_counts = Table(
    "tw_run_counts",
    metadata,
    # Runs deleted by pruning, per schedule and final state, so totals survive retention.
    Column("schedule", String(200), primary_key=True),
    Column("state", String(20), primary_key=True),
    Column("count", BigInteger, nullable=False, default=0),
)

schedule_health = Table(
    "tw_schedule_health",
    metadata,
    # Kept apart from tw_schedules so that health updates never bump a schedule's version/ETag.
    Column("schedule_id", RunId, ForeignKey("tw_schedules.id"), primary_key=True),
    Column("last_success_at", UTCDateTime, nullable=True),
    Column("last_success_fire", UTCDateTime, nullable=True),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("overdue_since", UTCDateTime, nullable=True),
    Column("overdue_fire", UTCDateTime, nullable=True),  # the expected fire found overdue
    Column("updated_at", UTCDateTime, nullable=False),
)
