"""Workload ``throughput``: no-op runs per second end to end, next to the raw database limit
measured in the same run and the peers.

SQLite: one process with scheduler and worker (the loop of ``tickwork run``, concurrency
64) drains a backlog of one-off schedules all due at one instant: the scheduler enqueues
them, the worker claims, executes and records them; timed from the fire instant until the
store has every run succeeded. Peers: APScheduler with its memory and SQLAlchemy (SQLite)
stores on the same backlog.

PostgreSQL: one scheduler (this process) and 1 or 4 worker processes (``tickwork worker``
roles, concurrency 64), backlogs of 500 and 8,000. The raw limit: ``FOR UPDATE SKIP LOCKED``
drains with 1 and 4 processes, one run per transaction and batches of 100. Peer:
procrastinate 3.10, one worker (concurrency 64) draining 500 and 2,000 deferred jobs.

Every figure is checked: executions counted by side effect equal the runs expected, none
twice, none missed, and the store agrees; a figure that fails the check is not met.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from bench import peers, raw
from bench.engine_runs import (
    app,
    drain_backlog,
    lead_time,
    one_off_schedules,
    spawn,
    stored_window,
)
from bench.harness import correct, database, postgres_unreachable, python_command
from bench.report import Options, Report, Row
from tickwork.model import RunState
from tickwork.scheduler import Scheduler

SQLITE_RUNS = 5000
PEER_RUNS_MEMORY = 5000
PEER_RUNS_DURABLE = 1000
SQLITE_TARGET = 10_000.0
PG_TARGET = 5_000.0
PEER_PG_LARGE = 2000
# Runs in flight per worker process, for tickwork's workers and procrastinate's alike: no-op
# tasks, so more at once means more runs per claim and per commit (16 gave 4 workers about
# 0.4x the rate of 64 on the machine of docs/benchmarks.md).
PG_CONCURRENCY = 64


def _row(
    system: str,
    setup: str,
    per_s: float,
    raw_limit: float,
    check: dict[str, int] | None,
    expected: int,
    met: bool | None,
) -> Row:
    ok = True if check is None else correct(check, expected)
    return Row(
        labels={"system": system, "setup": setup, "correct": "yes" if ok else f"NO {check}"},
        values={"runs_per_s": per_s, "x_raw": per_s / raw_limit if raw_limit else 0.0},
        met=None if met is None else (met and ok),
    )


def run(options: Options) -> Report:
    command = f"{python_command()} -m bench throughput --store {options.store}"
    if options.store == "postgres":
        return _postgres(command)
    return _sqlite(command)


def _sqlite(command: str) -> Report:
    report = Report(
        workload="throughput",
        target=f"SQLite, one `tickwork run` process: >= {SQLITE_TARGET:,.0f} no-op runs/s end "
        "to end; >= 14x APScheduler's SQLAlchemy store; > 0.5x its memory store",
        command=command,
    )
    with database("sqlite") as db:
        assert db.directory is not None
        raw_one = raw.raw_sqlite(str(db.directory / "raw1.db"), 20_000, 1)
        raw_batch = raw.raw_sqlite(str(db.directory / "raw100.db"), 50_000, 100)
        result = drain_backlog(db.url, SQLITE_RUNS, concurrency=64)
        aps_mem, mem_check = peers.apscheduler_backlog("memory", None, PEER_RUNS_MEMORY)
        aps_sql, sql_check = peers.apscheduler_backlog(
            "sqlalchemy", str(db.directory / "aps.db"), PEER_RUNS_DURABLE
        )
    ours_ok = correct(result.check, SQLITE_RUNS) and result.stored_succeeded == SQLITE_RUNS
    ours = result.runs_per_s
    met = ours >= SQLITE_TARGET and ours_ok
    report.rows += [
        _row("raw SQLite", "claim, complete: 1 run/txn", raw_one, raw_one, None, 0, None),
        _row("raw SQLite", "claim, complete: 100 runs/txn", raw_batch, raw_one, None, 0, None),
        _row(
            "tickwork",
            f"tickwork run, {SQLITE_RUNS} due at once",
            result.runs_per_s,
            raw_one,
            result.check,
            SQLITE_RUNS,
            met,
        ),
        _row(
            "APScheduler 3.11",
            f"memory store, {PEER_RUNS_MEMORY} jobs",
            aps_mem,
            raw_one,
            mem_check,
            PEER_RUNS_MEMORY,
            None,
        ),
        _row(
            "APScheduler 3.11",
            f"SQLAlchemy store (SQLite), {PEER_RUNS_DURABLE} jobs",
            aps_sql,
            raw_one,
            sql_check,
            PEER_RUNS_DURABLE,
            None,
        ),
        # Ratio rows (the ratio itself), as the PostgreSQL workload shows its own.
        _row(
            "tickwork",
            "/ APScheduler SQLAlchemy store",
            ours / aps_sql,
            1.0,
            None,
            0,
            ours_ok and ours >= 14 * aps_sql,
        ),
        _row(
            "tickwork",
            "/ APScheduler memory store",
            ours / aps_mem,
            1.0,
            None,
            0,
            ours_ok and ours > 0.5 * aps_mem,
        ),
    ]
    report.notes += [
        "x raw: the figure over raw SQLite with one run per claim and per completion "
        "transaction (WAL, synchronous=NORMAL), measured in this run (ratio rows: the ratio "
        "itself; targets >= 14 against the SQLAlchemy store, > 0.5 against memory).",
        f"tickwork: {result.runs_per_s / aps_sql:.1f}x APScheduler durable, "
        f"{result.runs_per_s / aps_mem:.2f}x APScheduler in memory; "
        f"store says {result.stored_succeeded} succeeded.",
    ]
    return report


def _pg_drain(url: str, runs: int, workers: int, concurrency: int) -> tuple[float, dict[str, int]]:
    """``workers`` worker processes drain ``runs`` one-off runs enqueued by this process's
    scheduler; runs/s from the first run's enqueue to the last run's end, as stored.

    The workers start first, with nothing due: a worker's start-up sync would otherwise
    enqueue fires that came due while it started, outside the measured pass."""
    tw = app(url, concurrency, lambda context: None)
    tw.store.upgrade()  # the schema, before the workers open it
    children = [spawn(url, "worker", concurrency) for _ in range(workers)]
    for _proc, ready, _stop, _out in children:
        ready.wait(60)
    fire = (datetime.now(UTC) + lead_time(runs)).replace(microsecond=0)
    expected = one_off_schedules(tw, runs, fire)
    tw.sync(datetime.now(UTC))  # stores them; nothing is due yet
    time.sleep(max(0.0, (fire - datetime.now(UTC)).total_seconds()))
    began = time.perf_counter()
    scheduler = Scheduler(tw.store, batch=1000)
    store = tw.store
    now = store.database_now() if hasattr(store, "database_now") else datetime.now(UTC)
    while scheduler.run_once(now).schedules:
        pass
    deadline = began + 60 + runs / 200
    while time.perf_counter() < deadline:
        if store.count_runs()[RunState.succeeded] >= runs:
            break
        time.sleep(0.02)
    elapsed = time.perf_counter() - began
    keys: list[str] = []
    for _proc, _ready, stop, _out in children:
        stop.set()
    for proc, _ready, _stop, out in children:
        keys += [key for key, _lag in out.get(timeout=60)]
        proc.join(30)
    succeeded = store.count_runs()[RunState.succeeded]
    window = stored_window(tw) if succeeded >= runs else elapsed
    tw.close()
    check = _check(keys, expected)
    if succeeded != runs:
        check["stored_succeeded"] = succeeded
    return runs / window, check


def _check(keys: list[str], expected: set[str]) -> dict[str, int]:
    seen = set(keys)
    return {
        "executed": len(keys),
        "duplicates": len(keys) - len(seen),
        "missed": len(expected - seen),
        "unexpected": len(seen - expected),
    }


def _postgres(command: str) -> Report:
    report = Report(
        workload="throughput",
        target=f"PostgreSQL, 4 worker processes: >= {PG_TARGET:,.0f} runs/s; 4 workers >= "
        "1.8x one; 8,000-run backlog >= 90% of the rate with 500; >= 15x procrastinate",
        command=command,
    )
    reason = postgres_unreachable()
    if reason is not None:
        report.notes.append(f"SKIPPED: {reason}")
        return report
    with database("postgres") as db:
        raw_1 = raw.raw_postgres(db.raw, 4000, 1, 1)
        raw_4 = raw.raw_postgres(db.raw, 8000, 1, 4)
        raw_b = raw.raw_postgres(db.raw, 50_000, 100, 1)
    with database("postgres") as db:
        one, one_check = _pg_drain(db.url, 2000, 1, PG_CONCURRENCY)
    with database("postgres") as db:
        small, small_check = _pg_drain(db.url, 500, 4, PG_CONCURRENCY)
    with database("postgres") as db:
        large, large_check = _pg_drain(db.url, 8000, 4, PG_CONCURRENCY)
    with database("postgres") as db:
        peer_small, peer_small_check = peers.procrastinate_backlog(db.url, 500, PG_CONCURRENCY)
    with database("postgres") as db:
        peer_large, peer_large_check = peers.procrastinate_backlog(
            db.url, PEER_PG_LARGE, PG_CONCURRENCY
        )
    ok4 = correct(large_check, 8000) and correct(small_check, 500)
    best_peer = max(peer_small, peer_large)
    report.rows += [
        _row("raw PostgreSQL", "SKIP LOCKED, 1 process, 1 run/txn", raw_1, raw_1, None, 0, None),
        _row("raw PostgreSQL", "SKIP LOCKED, 4 processes, 1 run/txn", raw_4, raw_1, None, 0, None),
        _row("raw PostgreSQL", "1 process, 100 runs/txn", raw_b, raw_1, None, 0, None),
        _row("tickwork", "1 worker process, 2000 due", one, raw_1, one_check, 2000, None),
        _row("tickwork", "4 worker processes, 500 due", small, raw_1, small_check, 500, None),
        _row(
            "tickwork",
            "4 worker processes, 8000 due",
            large,
            raw_1,
            large_check,
            8000,
            large >= PG_TARGET and large >= 15 * best_peer and ok4,
        ),
        _row(
            "procrastinate 3.10",
            f"1 worker, concurrency {PG_CONCURRENCY}, 500 due",
            peer_small,
            raw_1,
            peer_small_check,
            500,
            None,
        ),
        _row(
            "procrastinate 3.10",
            f"1 worker, concurrency {PG_CONCURRENCY}, {PEER_PG_LARGE} due",
            peer_large,
            raw_1,
            peer_large_check,
            PEER_PG_LARGE,
            None,
        ),
        _row(
            "tickwork",
            "4 workers, 8000 / procrastinate best",
            large / best_peer,
            1.0,
            None,
            0,
            large / best_peer >= 15,
        ),
        _row("tickwork", "4 workers / 1 worker", large / one, 1.0, None, 0, large / one >= 1.8),
        _row(
            "tickwork",
            "backlog 8000 / backlog 500",
            large / small,
            1.0,
            None,
            0,
            large / small >= 0.9,
        ),
    ]
    report.notes += [
        "x raw: the figure over raw PostgreSQL, one process, one run per claim and per "
        "completion transaction, measured in this run (ratio rows: the ratio itself).",
    ]
    return report
