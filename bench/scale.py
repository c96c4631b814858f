"""Workload ``scale``: 10^6 schedules stored; the scheduler's memory and the cost of a tick.

A SQLite file gets 10^3 or 10^6 schedules (bulk-inserted with the driver, in one
transaction: the fixture, not what is measured), 100 of them due. A fresh child process
then does what ``tickwork scheduler`` does: opens the app (``Tickwork.sync`` included, as
at start-up) and runs scheduler ticks; each measured tick enqueues exactly 100 due runs.
Reported: the median tick with 10^3 and with 10^6 stored, and the child's peak RSS.
Checked: each tick enqueued exactly the 100 runs due, none twice.
"""

from __future__ import annotations

import json
import resource
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

from bench.harness import database, python_command
from bench.report import Options, Report, Row
from tickwork.spec import validate_schedule
from tickwork.store import open_store

DUE = 100
TICKS = 10  # 10 x 100 due: every schedule of the 10^3 store due once
RSS_TARGET_MB = 200.0
SIZES = (1_000, 1_000_000)
FAR = datetime(2099, 1, 1, tzinfo=UTC)


def _stamp(value: datetime) -> str:
    """SQLAlchemy's storage format of a datetime in SQLite (naive UTC)."""
    return value.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def fill(url: str, path: str, count: int, now: datetime) -> None:
    """``count`` daily schedules, none due (the ticks make 100 due at a time)."""
    store = open_store(url)
    store.upgrade()
    store.close()
    spec = validate_schedule(
        {"name": "x", "cron": "0 3 * * *", "task": "bench:noop"}, default_tz="UTC"
    )
    conn = sqlite3.connect(path)
    stamp, far = _stamp(now), _stamp(FAR)
    rows = (
        (
            f"s{i:07d}",
            json.dumps({**spec, "name": f"s{i:07d}"}),
            "api",
            far,
            stamp,
        )
        for i in range(count)
    )
    with conn:
        conn.executemany(
            "INSERT INTO tw_schedules (name, spec, source, paused, retired, next_fire_at,"
            " last_fire_at, anchor, created_at, updated_at, version)"
            " VALUES (?, ?, ?, 0, 0, ?, NULL, ?5, ?5, ?5, 1)",
            rows,
        )
    conn.close()


def peak_rss_mb() -> float:
    """This process's peak resident memory, MB. Linux keeps ``ru_maxrss`` across exec: a
    child started by a big parent reported the parent's size at the fork (135 MB under
    ``bench all`` for a 60 MB scheduler). ``VmHWM`` is the peak of this program's own
    memory; ``ru_maxrss`` where there is no /proc."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(url: str, path: str, count: int) -> None:
    """The scheduler process: start-up as ``tickwork scheduler`` (sync), then TICKS ticks
    with 100 due each. Prints one JSON line."""
    from tickwork import Tickwork
    from tickwork.config import Settings
    from tickwork.scheduler import Scheduler

    tw = Tickwork(config=Settings(database_url=url, log_level="warning"))
    tw.sync()
    scheduler = Scheduler(tw.store)
    conn = sqlite3.connect(path)
    ticks: list[float] = []
    queued: list[int] = []
    for tick in range(TICKS):
        now = datetime.now(UTC)
        due = [f"s{(tick * DUE + i) * (count // (DUE * TICKS)):07d}" for i in range(DUE)]
        with conn:
            conn.executemany(
                "UPDATE tw_schedules SET next_fire_at = ? WHERE name = ?",
                [(_stamp(now - timedelta(milliseconds=1)), name) for name in due],
            )
        began = time.perf_counter()
        result = scheduler.run_once(now)
        ticks.append((time.perf_counter() - began) * 1000)
        queued.append(len({r.schedule for r in result.queued}))
    rss_mb = peak_rss_mb()
    print(json.dumps({"tick_ms": ticks, "queued": queued, "rss_mb": rss_mb}))
    tw.close()


def run(options: Options) -> Report:
    report = Report(
        workload="scale",
        target=f"1,000,000 schedules stored (SQLite): scheduler RSS <= {RSS_TARGET_MB:g} MB; "
        f"a tick with {DUE} due costs the same with 10^3 and 10^6 stored",
        command=f"{python_command()} -m bench scale",
    )
    results: dict[int, dict[str, float]] = {}
    for count in SIZES:
        with database("sqlite") as db:
            began = time.perf_counter()
            fill(db.url, db.raw, count, datetime.now(UTC))
            filled = time.perf_counter() - began
            out = subprocess.run(
                [sys.executable, "-m", "bench.scale", db.url, db.raw, str(count)],
                check=True,
                capture_output=True,
                text=True,
            )
        data = json.loads(out.stdout.strip().splitlines()[-1])
        ok = data["queued"] == [DUE] * TICKS
        results[count] = {
            "tick": statistics.median(data["tick_ms"]),
            "rss": data["rss_mb"],
            "ok": float(ok),
        }
        report.rows.append(
            Row(
                labels={"stored": f"{count:,}", "correct": "yes" if ok else f"NO {data['queued']}"},
                values={
                    "tick_median_ms": statistics.median(data["tick_ms"]),
                    "tick_max_ms": max(data["tick_ms"]),
                    "scheduler_rss_mb": data["rss_mb"],
                    "fill_s": filled,
                },
                met=ok and (count < max(SIZES) or data["rss_mb"] <= RSS_TARGET_MB),
            )
        )
    small, large = results[min(SIZES)], results[max(SIZES)]
    ratio = large["tick"] / small["tick"]
    report.rows.append(
        Row(
            labels={"stored": "10^6 / 10^3", "correct": "-"},
            values={
                "tick_median_ms": ratio,
                "tick_max_ms": None,
                "scheduler_rss_mb": large["rss"] / small["rss"],
                "fill_s": None,
            },
            met=ratio <= 1.5,
        )
    )
    report.notes.append(
        f"Each tick enqueues {DUE} runs; median of {TICKS} ticks. 'The same' is read as at most "
        "1.5x (noise on a shared machine). RSS: peak of the scheduler process, start-up "
        "(Tickwork.sync) included."
    )
    return report


if __name__ == "__main__":
    child(sys.argv[1], sys.argv[2], int(sys.argv[3]))
