"""A partial index of waiting runs in due order, for claims.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WAITING = "state IN ('queued', 'retrying')"  # as tickwork.store.schema.WAITING_SQL


def upgrade() -> None:
    # A claim reads due waiting runs by (due_at, id) and stops after its page; with only the
    # (state, due_at) index it sorted every due waiting run first, so a claim cost the size
    # of the backlog.
    op.create_index(
        "ix_tw_runs_waiting_due",
        "tw_runs",
        ["due_at", "id"],
        sqlite_where=sa.text(WAITING),
        postgresql_where=sa.text(WAITING),
    )


def downgrade() -> None:
    op.drop_index("ix_tw_runs_waiting_due", table_name="tw_runs")
