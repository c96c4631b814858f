"""Workload ``next``: the cost of ``CronTrigger.next_after`` per fire.

Walks consecutive fires (the scheduler's pattern: the next fire after the last one) and
times each call. Target: under 1 ms per fire at p99 for every expression, including the
rare ones whose next fire is years away (``0 0 29 2 *``, ``0 0 * 2 MON#5``). Also reports,
for information, how long defining a never-firing expression takes to fail (the 400-year
check) and one end-to-end ``tickwork next`` run in a subprocess.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.report import Options, Report, Row, summarize_us
from tickwork.errors import InvalidSpecError
from tickwork.triggers import CronTrigger

TARGET_US = 1000.0
FIRES = 2000
START = datetime(2024, 1, 1, tzinfo=UTC)

CASES: list[tuple[str, str]] = [
    ("0 0 29 2 *", "UTC"),
    ("0 0 * 2 MON#5", "UTC"),
    ("@yearly", "UTC"),
    ("*/5 * * * * *", "UTC"),
    ("0 30 2 * * *", "America/New_York"),
    ("0 0 L * *", "UTC"),
    ("*/15 * * * *", "Europe/Berlin"),
    ("0 3 * * *", "Europe/Berlin"),
    ("30 1 * * *", "America/New_York"),
    ("0 9 * * MON-FRI", "America/New_York"),
    ("15 2 * * *", "Australia/Lord_Howe"),
    ("0 0 LW * *", "UTC"),
    ("0 0 13 * 5", "UTC"),
    ("0 0 15W * *", "Pacific/Chatham"),
]
NEVER_FIRES = ["0 0 30 2 *", "1 1 */100 * MON#4"]


def time_fires(expression: str, zone: str, count: int = FIRES) -> list[int]:
    """Nanoseconds per ``next_after`` call over ``count`` consecutive fires."""
    trigger = CronTrigger(expression, ZoneInfo(zone))
    samples: list[int] = []
    current = START
    clock = time.perf_counter_ns
    while len(samples) < count:
        began = clock()
        fire = trigger.next_after(current)
        samples.append(clock() - began)
        current = START if fire is None else fire  # past year 9999: start over
    return samples


def time_definition(expression: str) -> float:
    """Milliseconds until defining ``expression`` fails as never firing."""
    began = time.perf_counter()
    try:
        CronTrigger(expression)
    except InvalidSpecError:
        return (time.perf_counter() - began) * 1000
    raise AssertionError(f"{expression!r} was expected never to fire")


def time_cli() -> tuple[list[str], float]:
    """One end-to-end ``tickwork next`` in a subprocess, in milliseconds."""
    script = Path(sys.executable).with_name("tickwork")
    prefix = [str(script)] if script.exists() else [shutil.which("tickwork") or "tickwork"]
    args = ["next", "--tz", "Europe/Berlin", "--after", "2024-03-30T00:00:00+01:00"]
    args += ["--count", "10", "--json", "--", "30 2 * * *"]
    began = time.perf_counter()
    subprocess.run([*prefix, *args], check=True, capture_output=True)
    return ["tickwork", *args], (time.perf_counter() - began) * 1000


def _python() -> str:
    """The interpreter as the reader would type it (``.venv/bin/python`` from the clone)."""
    executable = Path(sys.executable)
    try:
        return str(executable.relative_to(Path.cwd()))
    except ValueError:
        return str(executable)


def run(options: Options) -> Report:
    report = Report(
        workload="next",
        target=f"CronTrigger.next_after under {TARGET_US / 1000:g} ms per fire (p99)",
        command=f"{_python()} -m bench next" + (" --json" if options.as_json else ""),
    )
    for expression, zone in CASES:
        stats = summarize_us(time_fires(expression, zone))
        report.rows.append(
            Row(
                labels={"expression": expression, "zone": zone},
                values={
                    "median_us": stats["median_us"],
                    "p99_us": stats["p99_us"],
                    "fires_per_s": stats["per_s"],
                },
                met=stats["p99_us"] < TARGET_US,
            )
        )
    report.notes.append(f"{FIRES} consecutive fires per expression from {START.isoformat()}.")
    for expression in NEVER_FIRES:
        report.notes.append(
            f"defining never-firing {expression!r} fails in {time_definition(expression):.1f} ms"
        )
    command, elapsed = time_cli()
    quoted = " ".join(f"'{a}'" if " " in a else a for a in command)
    report.notes.append(f"end to end (subprocess, for information): {quoted}: {elapsed:.0f} ms")
    return report
