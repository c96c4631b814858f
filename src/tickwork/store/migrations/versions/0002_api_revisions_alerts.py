"""API tokens and idempotency keys, schedule revisions, alert outbox, kept run counts,
schedule health.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_instant = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "tw_tokens",
        sa.Column("id", _id, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("token_hash", sa.String(128), nullable=False),
        sa.Column("scopes", sa.String(100), nullable=False),
        sa.Column("created_at", _instant, nullable=False),
        sa.Column("last_used_at", _instant, nullable=True),
        sa.Column("revoked_at", _instant, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_tw_tokens"),
        sa.UniqueConstraint("name", name="uq_tw_tokens_name"),
        sa.UniqueConstraint("token_hash", name="uq_tw_tokens_token_hash"),
    )
    op.create_table(
        "tw_idempotency_keys",
        sa.Column("principal", sa.String(200), nullable=False),
        sa.Column("route", sa.String(200), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("request_hash", sa.String(128), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", sa.JSON(), nullable=True),
        sa.Column("created_at", _instant, nullable=False),
        sa.PrimaryKeyConstraint("principal", "route", "key", name="pk_tw_idempotency_keys"),
    )
    op.create_index("ix_tw_idempotency_keys_created_at", "tw_idempotency_keys", ["created_at"])
    op.create_table(
        "tw_revisions",
        sa.Column("number", _id, autoincrement=True, nullable=False),
        sa.Column("applied_at", _instant, nullable=False),
        sa.Column("applied_by", sa.String(500), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("after", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("number", name="pk_tw_revisions"),
    )
    op.create_table(
        "tw_alerts",
        sa.Column("id", _id, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("schedule", sa.String(200), nullable=False),
        sa.Column("run_id", _id, nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", _instant, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _instant, nullable=False),
        sa.Column("delivered_at", _instant, nullable=True),
        sa.Column("failed_at", _instant, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_tw_alerts"),
    )
    op.create_index(
        "ix_tw_alerts_delivered_at_next_attempt_at",
        "tw_alerts",
        ["delivered_at", "next_attempt_at"],
    )
    op.create_index("ix_tw_alerts_schedule_kind", "tw_alerts", ["schedule", "kind"])
    op.create_table(
        "tw_run_counts",
        sa.Column("schedule", sa.String(200), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("schedule", "state", name="pk_tw_run_counts"),
    )
    op.create_table(
        "tw_schedule_health",
        sa.Column("schedule_id", _id, nullable=False),
        sa.Column("last_success_at", _instant, nullable=True),
        sa.Column("last_success_fire", _instant, nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("overdue_since", _instant, nullable=True),
        sa.Column("overdue_fire", _instant, nullable=True),
        sa.Column("updated_at", _instant, nullable=False),
        sa.PrimaryKeyConstraint("schedule_id", name="pk_tw_schedule_health"),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["tw_schedules.id"],
            name="fk_tw_schedule_health_schedule_id_tw_schedules",
        ),
    )


def downgrade() -> None:
    op.drop_table("tw_schedule_health")
    op.drop_table("tw_run_counts")
    op.drop_table("tw_alerts")
    op.drop_table("tw_revisions")
    op.drop_table("tw_idempotency_keys")
    op.drop_table("tw_tokens")
