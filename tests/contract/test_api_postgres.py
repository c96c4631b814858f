"""The API's idempotent trigger on PostgreSQL, made to race deterministically: a second
request for a key whose first transaction has not committed waits on the key's primary key,
then replays the first answer instead of creating a run."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import insert

from tickwork.store.api_base import IdempotentOutcome
from tickwork.store.postgres import PostgresStore
from tickwork.store.schema import idempotency_keys

from .conftest import T0, add_schedule, runs_of

WAIT = 20.0  # seconds; a safety net only: the test waits on the database's lock table


@pytest.fixture
def pg(postgres_url: str) -> Iterator[PostgresStore]:
    store = PostgresStore(postgres_url)
    try:
        store.upgrade()
        yield store
    finally:
        store.close()


def test_a_key_being_inserted_makes_the_second_request_wait_then_replay(
    pg: PostgresStore,
) -> None:
    add_schedule(pg, "job")
    first = pg._engine.connect()
    tx = first.begin()
    first.execute(
        insert(idempotency_keys).values(
            principal="p",
            route="r",
            key="k",
            request_hash="h",
            status_code=201,
            response={"id": "the first answer"},
            created_at=T0,
        )
    )
    pid = first.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    result: list[IdempotentOutcome] = []
    waiter_pids: list[int] = []

    def second() -> None:
        result.append(
            pg.trigger_idempotent(
                "job",
                T0,
                principal="p",
                route="r",
                key="k",
                request_hash="h",
                respond=lambda run: (201, {"id": run.id}),
            )
        )

    thread = threading.Thread(target=second)
    thread.start()
    deadline = time.monotonic() + WAIT
    with pg._engine.connect() as conn:
        while not waiter_pids and time.monotonic() < deadline:
            waiter_pids = [
                int(p)
                for p in conn.exec_driver_sql(
                    "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND pid <> %(pid)s AND datname = current_database()",
                    {"pid": pid},
                ).scalars()
            ]
            if not waiter_pids:
                time.sleep(0.01)  # polling the lock table, not waiting for time to pass
    assert waiter_pids, "the second request never waited on the first one's key"
    assert thread.is_alive()
    tx.commit()
    first.close()
    thread.join(WAIT)
    (outcome,) = result
    assert outcome.run is None
    assert outcome.stored is not None
    assert outcome.stored.body == {"id": "the first answer"}
    assert runs_of(pg, "job") == []
