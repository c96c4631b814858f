"""Workload ``lag``: actual start minus nominal fire, 200 schedules every second.

SQLite, one process (``tickwork run``): all 200 due on the same second (a burst), and start
times spread over the second (interval schedules whose anchors are 5 ms apart). PostgreSQL:
a scheduler and 4 workers in separate processes, the burst and a single every-second
schedule. Peers: APScheduler, memory and SQLAlchemy (SQLite) stores, the burst.

The lag is taken in the task from the host clock against the run's nominal fire. Every case
is checked: one execution per (schedule, fire) expected in the window, no duplicates.
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import time
from datetime import UTC, datetime, timedelta

from bench import peers, raw
from bench.engine_runs import app, spawn
from bench.harness import database, percentile, postgres_unreachable, python_command
from bench.report import Options, Report, Row
from tickwork.context import TaskContext

SCHEDULES = 200
SECONDS = float(os.environ.get("TICKWORK_BENCH_LAG_SECONDS", "30"))
PEER_SECONDS = min(SECONDS, 10.0)
BURST_P99_MS = 16.0
SPREAD_P99_MS = 5.0
PG_BURST_P99_MS = 50.0
PG_SINGLE_P99_MS = 20.0


def _row(
    system: str, case: str, lags: list[float], expected: int, dupes: int, target: float | None
) -> Row:
    ms = [lag * 1000 for lag in lags]
    p99 = percentile(ms, 0.99)
    # A fire run twice, or far fewer runs than fires in the window, does not count.
    ok = dupes == 0 and len(ms) >= expected * 0.97
    return Row(
        labels={"system": system, "case": case, "correct": "yes" if ok else "NO"},
        values={
            "runs": float(len(ms)),
            "expected": float(expected),
            "median_ms": statistics.median(ms) if ms else float("nan"),
            "p99_ms": p99,
            "max_ms": max(ms) if ms else float("nan"),
        },
        met=None if target is None else (ok and p99 <= target),
    )


def _tickwork_sqlite(spread: bool) -> tuple[list[float], int, int]:
    """Lags of one process running 200 every-second schedules for SECONDS."""
    lags: list[tuple[str, float]] = []

    def task(context: TaskContext) -> None:
        lags.append((context.idempotency_key, time.time() - context.nominal_fire.timestamp()))

    with database("sqlite") as db:
        tw = app(db.url, 32, task)
        base = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
        for i in range(SCHEDULES):
            if spread:
                start = base + timedelta(milliseconds=5 * i)
                tw.add_schedule(
                    name=f"l{i}", task="bench:noop", every="1s", start_at=start.isoformat()
                )
            else:
                tw.add_schedule(name=f"l{i}", task="bench:noop", cron="* * * * * *")
        tw.sync(datetime.now(UTC))
        tw.start()
        time.sleep(max(0.0, (base - datetime.now(UTC)).total_seconds()) + SECONDS)
        tw.stop()
        tw.close()
    window_start, window_end = base.timestamp(), base.timestamp() + SECONDS
    inside = [(key, lag) for key, lag in lags if window_start <= _nominal(key) < window_end - 1]
    keys = [key for key, _ in inside]
    return [lag for _, lag in inside], SCHEDULES * (int(SECONDS) - 1), len(keys) - len(set(keys))


TRIPS = 5  # statements per sample of the raw rows (a fire's pass and claim take ~10)


def _idle_rows(system: str, samples: list[float]) -> list[Row]:
    idle, busy = samples[: raw.IDLE_SAMPLES], samples[raw.IDLE_SAMPLES :]
    return [
        _row(system, f"{TRIPS} statements after {raw.IDLE:g} s idle", idle, len(idle), 0, None),
        _row(system, f"{TRIPS} statements back to back", busy, len(busy), 0, None),
    ]


def _postgres_idle() -> list[float]:
    import psycopg

    with database("postgres") as db:
        return raw.raw_after_idle(
            lambda: psycopg.connect(db.raw, autocommit=True), "SELECT 1", TRIPS
        )


def _sqlite_idle() -> list[float]:
    with database("sqlite") as db:
        assert db.directory is not None
        path = str(db.directory / "idle.db")
        return raw.raw_after_idle(
            lambda: sqlite3.connect(path, isolation_level=None), "SELECT 1", TRIPS
        )


def _nominal(key: str) -> float:
    return datetime.fromisoformat(key.rsplit("@", 1)[1]).timestamp()


def _tickwork_postgres(schedules: int, workers: int) -> tuple[list[float], int, int]:
    """A scheduler process and ``workers`` worker processes; lags measured in the workers."""
    with database("postgres") as db:
        tw = app(db.url, 16, lambda context: None)
        for i in range(schedules):
            tw.add_schedule(name=f"l{i}", task="bench:noop", cron="* * * * * *")
        tw.sync(datetime.now(UTC))
        tw.close()
        children = [spawn(db.url, "worker", 16) for _ in range(workers)]
        children.append(spawn(db.url, "scheduler", 4))
        for _proc, ready, _stop, _out in children:
            ready.wait(60)
        began = time.time()
        time.sleep(SECONDS)
        entries: list[tuple[str, float]] = []
        for _proc, _ready, stop, _out in children:
            stop.set()
        for proc, _ready, _stop, out in children:
            entries += out.get(timeout=60)
            proc.join(30)
    # Whole seconds fully inside the window (the first and last may be partial).
    lo, hi = int(began) + 2, int(began + SECONDS) - 1
    inside = [(k, lag) for k, lag in entries if lo <= _nominal(k) < hi]
    keys = [k for k, _ in inside]
    return [lag for _, lag in inside], schedules * (hi - lo), len(keys) - len(set(keys))


def run(options: Options) -> Report:
    command = f"{python_command()} -m bench lag --store {options.store}"
    report = Report(
        workload="lag",
        target="",
        command=command,
    )
    if options.store == "postgres":
        report.target = (
            f"PostgreSQL, scheduler + 4 workers in separate processes: burst of {SCHEDULES} "
            f"p99 <= {PG_BURST_P99_MS:g} ms; one every-second schedule p99 <= "
            f"{PG_SINGLE_P99_MS:g} ms"
        )
        reason = postgres_unreachable()
        if reason is not None:
            report.notes.append(f"SKIPPED: {reason}")
            return report
        report.rows += _idle_rows("raw PostgreSQL", _postgres_idle())
        lags, expected, dupes = _tickwork_postgres(SCHEDULES, 4)
        report.rows.append(
            _row(
                "tickwork",
                f"{SCHEDULES} due on the same second",
                lags,
                expected,
                dupes,
                PG_BURST_P99_MS,
            )
        )
        lags, expected, dupes = _tickwork_postgres(1, 4)
        report.rows.append(
            _row("tickwork", "1 schedule every second", lags, expected, dupes, PG_SINGLE_P99_MS)
        )
    else:
        report.target = (
            f"SQLite, one `tickwork run` process, {SCHEDULES} schedules every second: all due "
            f"on the same second p99 <= {BURST_P99_MS:g} ms; spread over the second p99 <= "
            f"{SPREAD_P99_MS:g} ms"
        )
        report.rows += _idle_rows("raw SQLite", _sqlite_idle())
        lags, expected, dupes = _tickwork_sqlite(spread=False)
        report.rows.append(
            _row("tickwork", "due on the same second", lags, expected, dupes, BURST_P99_MS)
        )
        lags, expected, dupes = _tickwork_sqlite(spread=True)
        report.rows.append(
            _row("tickwork", "spread over the second", lags, expected, dupes, SPREAD_P99_MS)
        )
        for store in ("memory", "sqlalchemy"):
            with database("sqlite") as db:
                assert db.directory is not None
                lags, expected, dupes = peers.apscheduler_lag(
                    store, str(db.directory / "aps.db"), SCHEDULES, PEER_SECONDS
                )
            report.rows.append(
                _row(
                    f"APScheduler 3.11 ({store})",
                    "due on the same second",
                    lags,
                    expected,
                    dupes,
                    None,
                )
            )
    report.notes.append(
        f"{SCHEDULES} schedules for {SECONDS:g} s (peers {PEER_SECONDS:g} s); "
        "TICKWORK_BENCH_LAG_SECONDS changes it. Lag = start in the task - nominal fire."
    )
    report.notes.append(
        f"raw rows: {TRIPS} statements (SELECT 1) on one connection, no Python beyond the "
        f"driver, {raw.IDLE_SAMPLES} samples after {raw.IDLE:g} s asleep (as an every-second "
        "fire finds the machine) and as many back to back: what a fire's round trips cost "
        "here before any of tickwork's work."
    )
    return report
