"""Migrations create exactly ``tickwork.store.schema``; the database enforces its rules."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError

from tickwork.store import Store, migrations
from tickwork.store.schema import metadata, runs
from tickwork.store.sql import SQLStore

from .conftest import LEASE, T0, Backend, add_schedule


def _engine(store: Store):  # white box: the schema is what the store's engine sees
    assert isinstance(store, SQLStore)
    return store._engine


def test_upgraded_schema_matches_the_metadata(store: Store) -> None:
    with _engine(store).connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"version_table": migrations.VERSION_TABLE, "compare_type": True}
        )
        assert compare_metadata(context, metadata) == []


def test_upgrade_creates_the_tables_and_records_the_head_revision(store: Store) -> None:
    with _engine(store).connect() as conn:
        tables = set(inspect(conn).get_table_names())
        assert tables == {t.name for t in metadata.sorted_tables} | {migrations.VERSION_TABLE}
        assert migrations.current_revision(conn) == migrations.head_revision() == "0005"


def test_upgrade_is_idempotent(store: Store, backend: Backend) -> None:
    add_schedule(store, "kept")
    store.upgrade()
    again = backend.open()
    try:
        again.upgrade()
        assert [s.name for s in again.list_schedules()] == ["kept"]
    finally:
        again.close()


def test_the_unique_key_refuses_a_second_row_for_a_fire(store: Store) -> None:
    row = add_schedule(store)
    store.trigger(row.name, T0)
    values = {
        "schedule_id": row.id,
        "schedule": row.name,
        "nominal_fire": T0,
        "due_at": T0,
        "state": "queued",
        "attempt": 0,
        "max_attempts": 1,
        "kind": "manual",
        "created_at": T0,
    }
    with pytest.raises(IntegrityError), _engine(store).begin() as conn:
        conn.execute(runs.insert().values(**values))


@pytest.mark.parametrize(
    ("state", "owner", "expires"),
    [
        pytest.param("running", None, None, id="running-without-lease"),
        pytest.param("running", "w1", None, id="running-without-expiry"),
        pytest.param("queued", "w1", T0 + LEASE, id="queued-with-lease"),
    ],
)
def test_the_lease_check_refuses_half_transitions(
    store: Store, state: str, owner: str | None, expires: object
) -> None:
    row = add_schedule(store)
    values = {
        "schedule_id": row.id,
        "schedule": row.name,
        "nominal_fire": T0,
        "due_at": T0,
        "state": state,
        "attempt": 1,
        "max_attempts": 1,
        "kind": "manual",
        "created_at": T0,
        "lease_owner": owner,
        "lease_expires_at": expires,
    }
    with pytest.raises(IntegrityError), _engine(store).begin() as conn:
        conn.execute(runs.insert().values(**values))
