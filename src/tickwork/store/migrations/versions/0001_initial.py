"""Initial schema: schedules, runs, run events, workers.

Written out explicitly (not ``metadata.create_all``) so that this revision stays what it was
when later revisions change ``tickwork.store.schema``.

Revision ID: 0001
Revises:
Create Date: 2026-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# INTEGER PRIMARY KEY is SQLite's rowid (auto-assigned); BIGINT elsewhere.
_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_instant = sa.DateTime(timezone=True)  # tickwork.store.schema.UTCDateTime stores into this
_STATES = (
    "'queued','running','retrying','succeeded','failed','timed_out',"
    "'cancelled','skipped','missed','shadowed'"
)


def upgrade() -> None:
    op.create_table(
        "tw_schedules",
        sa.Column("id", _id, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("retired", sa.Boolean(), nullable=False),
        sa.Column("next_fire_at", _instant, nullable=True),
        sa.Column("last_fire_at", _instant, nullable=True),
        sa.Column("anchor", _instant, nullable=False),
        sa.Column("created_at", _instant, nullable=False),
        sa.Column("updated_at", _instant, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tw_schedules"),
        sa.UniqueConstraint("name", name="uq_tw_schedules_name"),
        sa.CheckConstraint("source in ('config','code','api')", name="ck_tw_schedules_source"),
    )
    op.create_index("ix_tw_schedules_next_fire_at", "tw_schedules", ["next_fire_at"])

    op.create_table(
        "tw_runs",
        sa.Column("id", _id, autoincrement=True, nullable=False),
        sa.Column("schedule_id", _id, nullable=False),
        sa.Column("schedule", sa.String(200), nullable=False),
        sa.Column("nominal_fire", _instant, nullable=False),
        sa.Column("due_at", _instant, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("lease_owner", sa.String(200), nullable=True),
        sa.Column("lease_expires_at", _instant, nullable=True),
        sa.Column("created_at", _instant, nullable=False),
        sa.Column("started_at", _instant, nullable=True),
        sa.Column("finished_at", _instant, nullable=True),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("output", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_tw_runs"),
        sa.ForeignKeyConstraint(
            ["schedule_id"], ["tw_schedules.id"], name="fk_tw_runs_schedule_id_tw_schedules"
        ),
        # Promise 1: one row per (schedule, nominal fire), enforced by the database.
        sa.UniqueConstraint(
            "schedule_id", "nominal_fire", name="uq_tw_runs_schedule_id_nominal_fire"
        ),
        sa.CheckConstraint(f"state in ({_STATES})", name="ck_tw_runs_state"),
        sa.CheckConstraint("attempt >= 0 and max_attempts >= 1", name="ck_tw_runs_attempts"),
        sa.CheckConstraint(
            "(state = 'running') = (lease_owner is not null and lease_expires_at is not null)",
            name="ck_tw_runs_lease",
        ),
    )
    op.create_index("ix_tw_runs_state_due_at", "tw_runs", ["state", "due_at"])
    op.create_index("ix_tw_runs_schedule_id_state", "tw_runs", ["schedule_id", "state"])
    op.create_index("ix_tw_runs_schedule_name_id", "tw_runs", ["schedule", "id"])
    op.create_index("ix_tw_runs_finished_at", "tw_runs", ["finished_at"])

    op.create_table(
        "tw_run_events",
        sa.Column("id", _id, autoincrement=True, nullable=False),
        sa.Column("run_id", _id, nullable=False),
        sa.Column("at", _instant, nullable=False),
        sa.Column("event", sa.String(40), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_tw_run_events"),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["tw_runs.id"],
            name="fk_tw_run_events_run_id_tw_runs",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_tw_run_events_run_id_id", "tw_run_events", ["run_id", "id"])

    op.create_table(
        "tw_workers",
        sa.Column("id", sa.String(200), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(40), nullable=False),
        sa.Column("roles", sa.String(100), nullable=False),
        sa.Column("started_at", _instant, nullable=False),
        sa.Column("heartbeat_at", _instant, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tw_workers"),
    )


def downgrade() -> None:
    op.drop_table("tw_workers")
    op.drop_table("tw_run_events")
    op.drop_table("tw_runs")
    op.drop_table("tw_schedules")
