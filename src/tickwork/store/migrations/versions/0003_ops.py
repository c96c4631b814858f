"""Alerts name the fire they are about; one alert per (kind, schedule, fire).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable only because ADD COLUMN cannot fill rows written before; tickwork always sets
    # it, and the unique index makes several scheduler processes insert an alert once.
    op.add_column("tw_alerts", sa.Column("fire", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "uq_tw_alerts_kind_schedule_fire", "tw_alerts", ["kind", "schedule", "fire"], unique=True
    )


def downgrade() -> None:
    op.drop_index("uq_tw_alerts_kind_schedule_fire", table_name="tw_alerts")
    with op.batch_alter_table("tw_alerts") as batch:
        batch.drop_column("fire")
