"""Promise 1 on PostgreSQL across processes: six `tickwork run` (scheduler and worker each)
on one database, 200 schedules firing every second; every fire time of the window has
exactly one run row, and each run succeeded and took effect once.

45 s by default (about 80 s in all on the 2-core CI machine, which works off ~150 runs/s);
TICKWORK_SOAK_SECONDS=60 is the issue's 60 s form (75-112 s in all there)."""

from __future__ import annotations

import time
from pathlib import Path

from .conftest import Processes, Window, assert_exact, soak_seconds

PROCESSES = 6
SCHEDULES = 200


def test_six_processes_run_each_fire_of_200_schedules_once(
    postgres_database: str, tmp_path: Path, processes: Processes
) -> None:
    began = time.monotonic()
    window = Window.open(postgres_database, SCHEDULES, soak_seconds(45))
    config = window.config(tmp_path / "tickwork.toml", log_level="warning")
    for _ in range(PROCESSES):
        processes.start(config, env=window.env)
    window.wait_started(60)
    window.wait_settled(window.seconds + 120)
    processes.stop_all()
    acc = window.account()
    print(
        f"\nexactly once: {PROCESSES} processes, {SCHEDULES} schedules every second for "
        f"{window.seconds}s ({time.monotonic() - began:.0f}s in all): {acc.line()}"
    )
    assert_exact(acc)
    assert acc.duplicates == 0, acc.line()  # nobody crashed: nothing ran twice
    assert acc.early == 0, acc.line()
    assert len(acc.by_pid) == PROCESSES, "every process did part of the work"
