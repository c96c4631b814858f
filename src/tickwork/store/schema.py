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
)
from sqlalchemy.types import TypeDecorator

__all__ = ["metadata", "run_events", "runs", "schedules", "workers"]


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out; naive input is refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass aware UTC instants")
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
    Index(None, "schedule_id", "state"),
    # Named by hand: the convention would call it ix_tw_runs_schedule_id, read as schedule_id.
    Index("ix_tw_runs_schedule_name_id", "schedule", "id"),
    Index(None, "finished_at"),
)

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
