"""The raw database limit, measured in the same run as the figure it is compared with.

A queue table with the essentials of a run (state, due time, lease owner) and the two steps
every durable job system pays per run: a claim (the oldest due queued row becomes running,
leased) and a completion (fenced on the lease), each committed. Measured one run per
transaction and in batches of 100, with the store's own settings (SQLite: WAL,
``synchronous=NORMAL``, ``BEGIN IMMEDIATE``; PostgreSQL: ``FOR UPDATE SKIP LOCKED``,
``synchronous_commit`` as the server has it). No Python beyond the driver.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import time
from typing import Any

__all__ = ["IDLE_SAMPLES", "raw_after_idle", "raw_postgres", "raw_sqlite"]

QUEUE_DDL = (
    "CREATE TABLE raw_runs (id {pk}, state TEXT NOT NULL, due_at DOUBLE PRECISION NOT NULL,"
    " lease_owner TEXT, started_at DOUBLE PRECISION, finished_at DOUBLE PRECISION)"
)
QUEUE_INDEX = "CREATE INDEX raw_runs_due ON raw_runs (state, due_at, id)"


def raw_sqlite(path: str, runs: int, batch: int) -> float:
    """Runs per second drained from a backlog of ``runs`` by one process, ``batch`` runs per
    claim transaction and per completion transaction."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("DROP TABLE IF EXISTS raw_runs")
    conn.execute(QUEUE_DDL.format(pk="INTEGER PRIMARY KEY"))
    conn.execute(QUEUE_INDEX)
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO raw_runs (state, due_at) VALUES ('queued', ?)", [(0.0,)] * runs)
    conn.execute("COMMIT")
    claim = (
        "UPDATE raw_runs SET state = 'running', lease_owner = ?, started_at = ? WHERE id IN"
        " (SELECT id FROM raw_runs WHERE state = 'queued' AND due_at <= ?"
        " ORDER BY due_at, id LIMIT ?) RETURNING id"
    )
    finish = (
        "UPDATE raw_runs SET state = 'succeeded', lease_owner = NULL, finished_at = ?"
        " WHERE id = ? AND state = 'running' AND lease_owner = ?"
    )
    done = 0
    began = time.perf_counter()
    while True:
        now = time.time()
        conn.execute("BEGIN IMMEDIATE")
        ids = [r[0] for r in conn.execute(claim, ("w", now, now, batch))]
        conn.execute("COMMIT")
        if not ids:
            break
        conn.execute("BEGIN IMMEDIATE")
        cur = conn.executemany(finish, [(now, i, "w") for i in ids])
        conn.execute("COMMIT")
        assert cur.rowcount == len(ids)
        done += len(ids)
    elapsed = time.perf_counter() - began
    left = conn.execute("SELECT count(*) FROM raw_runs WHERE state <> 'succeeded'").fetchone()
    conn.close()
    if done != runs or left != (0,):
        raise RuntimeError(f"raw SQLite drain lost runs: {done} of {runs}, {left} left")
    return runs / elapsed


def _pg_drain(url: str, batch: int, start: Any, counts: Any, index: int) -> None:
    import psycopg

    claim = (
        "UPDATE raw_runs SET state = 'running', lease_owner = %s,"
        " started_at = extract(epoch from now())"
        " WHERE id IN (SELECT id FROM raw_runs WHERE state = 'queued' AND due_at <= 0"
        " ORDER BY due_at, id LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING id"
    )
    finish = (
        "UPDATE raw_runs SET state = 'succeeded', lease_owner = NULL,"
        " finished_at = extract(epoch from now())"
        " WHERE id = ANY(%s) AND state = 'running' AND lease_owner = %s"
    )
    worker = f"w{index}"
    done = 0
    with psycopg.connect(url) as conn:
        start.wait()
        while True:
            with conn.transaction():
                ids = [r[0] for r in conn.execute(claim, (worker, batch))]
            if not ids:
                break
            with conn.transaction():
                cur = conn.execute(finish, (ids, worker))
                assert cur.rowcount == len(ids)
            done += len(ids)
    counts[index] = done


def raw_postgres(url: str, runs: int, batch: int, processes: int) -> float:
    """Runs per second drained from a backlog of ``runs`` by ``processes`` processes with
    ``FOR UPDATE SKIP LOCKED``, ``batch`` runs per claim and per completion transaction."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS raw_runs")
        conn.execute(QUEUE_DDL.format(pk="BIGSERIAL PRIMARY KEY"))
        conn.execute(QUEUE_INDEX)
        conn.execute(
            "INSERT INTO raw_runs (state, due_at) SELECT 'queued', 0 FROM generate_series(1, %s)",
            (runs,),
        )
        conn.execute("ANALYZE raw_runs")
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    counts = ctx.Array("q", processes)
    procs = [
        ctx.Process(target=_pg_drain, args=(url, batch, start, counts, i)) for i in range(processes)
    ]
    for p in procs:
        p.start()
    time.sleep(1.0)  # every process connected (spawn imports take a moment)
    began = time.perf_counter()
    start.set()
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - began
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM raw_runs WHERE state <> 'succeeded'").fetchone()
        conn.execute("DROP TABLE raw_runs")
    if sum(counts) != runs or row != (0,):
        raise RuntimeError(f"raw PostgreSQL drain lost runs: {sum(counts)} of {runs}, {row}")
    return runs / elapsed


IDLE = 1.0  # seconds asleep before each sample of ``raw_after_idle``: an every-second fire
IDLE_SAMPLES = 8


def raw_after_idle(connect: Any, statement: str, trips: int) -> list[float]:
    """Seconds taken by ``trips`` round trips of ``statement`` (no Python beyond the driver),
    each sample taken after ``IDLE`` seconds asleep, as a fire of an every-second schedule
    finds the machine; then as many samples back to back. ``connect()`` opens the
    connection (autocommit)."""
    conn = connect()
    try:
        conn.execute(statement).fetchall()  # connected, warm
        idle: list[float] = []
        for _ in range(IDLE_SAMPLES):
            time.sleep(IDLE)
            idle.append(_trips(conn, statement, trips))
        busy = [_trips(conn, statement, trips) for _ in range(IDLE_SAMPLES)]
    finally:
        conn.close()
    return idle + busy


def _trips(conn: Any, statement: str, trips: int) -> float:
    began = time.perf_counter()
    for _ in range(trips):
        conn.execute(statement).fetchall()
    return time.perf_counter() - began
