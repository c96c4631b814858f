"""The task of the PostgreSQL e2e tests, imported by the `tickwork run` processes (the tests
put this directory on their PYTHONPATH).

Each execution records its run's idempotency key in a side table keyed by it: the first
execution inserts the row, any later one (an attempt repeated after a crash) only counts
up ``executions``. So the table holds the effects (exactly once by key) and the duplicate
executions (at-least-once shows there), with the database's and the host's clock at the
first execution.
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime
from typing import Any

import psycopg

URL_VARIABLE = "TW_E2E_EFFECTS_URL"
TABLE_DDL = """
CREATE TABLE tw_e2e_effects (
    key text PRIMARY KEY,
    schedule text NOT NULL,
    nominal timestamptz NOT NULL,
    executions integer NOT NULL,
    db_at timestamptz NOT NULL,
    host_at timestamptz NOT NULL,
    pid integer NOT NULL
)
"""
# One connection per process, used by one task at a time: each task runs in a thread of its
# own (the thread executor), and six processes share the server's max_connections.
_lock = threading.Lock()
_conn: list[psycopg.Connection[Any]] = []


def record(context: Any) -> None:
    with _lock:
        if not _conn or _conn[0].closed or _conn[0].broken:
            _conn[:] = [
                psycopg.connect(os.environ[URL_VARIABLE], autocommit=True, connect_timeout=5)
            ]
        _insert(_conn[0], context)


def _insert(conn: psycopg.Connection[Any], context: Any) -> None:
    conn.execute(
        "INSERT INTO tw_e2e_effects (key, schedule, nominal, executions, db_at, host_at, pid)"
        " VALUES (%s, %s, %s, 1, clock_timestamp(), %s, %s)"
        " ON CONFLICT (key) DO UPDATE SET executions = tw_e2e_effects.executions + 1",
        [
            context.idempotency_key,
            context.schedule,
            context.nominal_fire,
            datetime.now(UTC),  # this host's clock: skewed under faketime
            os.getpid(),
        ],
    )
