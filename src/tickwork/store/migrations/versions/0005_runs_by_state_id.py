"""Run listings by state read from an index in id order: the (schedule_id, state) index of
runs gains the run id, and a (state, id) index is added.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A run listing of one schedule filtered by state (`tickwork runs --schedule X --status
    # succeeded`, the API's /runs?schedule=X&state=...) sorted every run of the schedule in
    # those states by id on PostgreSQL (SQLite keeps the rowid in the key anyway); with the
    # id in the key the newest come first. It replaces the old index, whose every use (the
    # per-schedule counts of /metrics) it serves as well.
    op.create_index("ix_tw_runs_schedule_id_state_id", "tw_runs", ["schedule_id", "state", "id"])
    op.drop_index("ix_tw_runs_schedule_id_state", table_name="tw_runs")
    # The same for every schedule (`tickwork runs --status failed`, /api/v1/runs?state=...,
    # the dashboard's list of failures): SQLite read every run in the state through
    # (state, due_at) and sorted them, 1.4 s with two million runs.
    op.create_index("ix_tw_runs_state_id", "tw_runs", ["state", "id"])


def downgrade() -> None:
    op.drop_index("ix_tw_runs_state_id", table_name="tw_runs")
    op.create_index("ix_tw_runs_schedule_id_state", "tw_runs", ["schedule_id", "state"])
    op.drop_index("ix_tw_runs_schedule_id_state_id", table_name="tw_runs")
