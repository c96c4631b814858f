"""Promises 1-3 on PostgreSQL under chaos: six `tickwork run` on one database, 200 schedules
firing every second; every few seconds a random process is killed with SIGKILL and a new
one started. Every fire time of the window ends with exactly one run, in a terminal state:
none lost, none doubled; runs a killed process held are taken back and retried."""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

from .conftest import Processes, Window, assert_exact, soak_seconds

PROCESSES = 6
SCHEDULES = 200


def test_sigkill_a_random_process_every_few_seconds_loses_and_doubles_nothing(
    postgres_database: str, tmp_path: Path, processes: Processes
) -> None:
    seed = int(os.environ.get("TICKWORK_CHAOS_SEED", random.randrange(10**6)))
    rng = random.Random(seed)
    began = time.monotonic()
    window = Window.open(postgres_database, SCHEDULES, soak_seconds(30))
    # A short lease, so runs a killed process held come back within seconds.
    config = window.config(tmp_path / "tickwork.toml", log_level="warning", lease="3s")
    alive = [processes.start(config, env=window.env) for _ in range(PROCESSES)]
    window.wait_started(60)
    stop_killing = time.monotonic() + window.seconds
    kills = 0
    while time.monotonic() < stop_killing:
        time.sleep(rng.uniform(2.0, 4.0))  # the chaos interval, not a wait for a schedule
        victim = alive.pop(rng.randrange(len(alive)))
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        kills += 1
        alive.append(processes.start(config, env=window.env))
    window.wait_settled(window.seconds + 150)
    processes.stop_all()
    acc = window.account()
    print(
        f"\nchaos (seed {seed}): {kills} SIGKILLs and restarts among {PROCESSES} processes, "
        f"{SCHEDULES} schedules every second for {window.seconds}s "
        f"({time.monotonic() - began:.0f}s in all): {acc.line()}"
    )
    assert kills >= window.seconds // 4
    assert_exact(acc, all_succeeded=False)  # one terminal run per fire, none lost or doubled
    assert acc.states.get("succeeded", 0) + acc.states.get("failed", 0) == acc.rows, acc.line()
