"""Clock skew between hosts on PostgreSQL: one `tickwork run` whose host clock is five
minutes fast (libfaketime: `faketime -f +5m`) runs next to a normal one. On PostgreSQL the
engine's clock is the database's (DatabaseClock), so every fire time still runs once, none
early, and the lag measured against the database's clock stays small.

FAKETIME_DONT_FAKE_MONOTONIC=1: with a faked monotonic clock Python's timed waits on a
semaphore (sem_clockwait, which libfaketime does not intercept) would wait five minutes too.
The monotonic clock is not the host's wall clock, so the skew shown is the one that matters.
"""

from __future__ import annotations

import os
import shutil
import time
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from .conftest import Processes, Window, assert_exact, soak_seconds

SCHEDULES = 50
SKEW = timedelta(minutes=5)


def test_a_process_whose_clock_is_minutes_fast_runs_every_fire_once_and_on_time(
    postgres_database: str, tmp_path: Path, processes: Processes
) -> None:
    faketime = shutil.which("faketime")
    if faketime is None:
        message = "faketime (Debian package faketime) is not installed"
        if os.environ.get("TICKWORK_REQUIRE_POSTGRES"):  # CI installs it (.ci/run)
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    began = time.monotonic()
    window = Window.open(postgres_database, SCHEDULES, soak_seconds(30))
    config = window.config(tmp_path / "tickwork.toml", log_level="warning")
    normal = processes.start(config, env=window.env)
    skewed = processes.start(
        config,
        env={**window.env, "FAKETIME_DONT_FAKE_MONOTONIC": "1"},
        wrapper=[faketime, "-f", f"+{int(SKEW.total_seconds() // 60)}m"],
    )
    window.wait_started(60)
    window.wait_settled(window.seconds + 90)
    up = skewed.poll() is None and normal.poll() is None
    processes.stop_all()
    acc = window.account()
    with psycopg.connect(postgres_database) as conn:
        # The skewed process's runs are those whose host clock was a minute or more off
        # (faketime runs the command as a child: the pid is not the wrapper's).
        row = conn.execute(
            "SELECT count(*), min(host_at - db_at), max(host_at - db_at)"
            " FROM tw_e2e_effects WHERE host_at - db_at > interval '1 minute'"
        ).fetchone()
    assert row is not None
    by_skewed, least, most = row
    print(
        f"\nclock skew: one process's host clock {SKEW} fast (its tasks saw the "
        f"host ahead of the database by {least} to {most}), {SCHEDULES} schedules every "
        f"second for {window.seconds}s ({time.monotonic() - began:.0f}s in all); it ran "
        f"{by_skewed} of them: {acc.line()}"
    )
    assert up, "both processes ran to the end"
    assert by_skewed > 0, "the skewed process did part of the work"
    assert SKEW - timedelta(seconds=10) < least <= most < SKEW + timedelta(seconds=10)
    assert_exact(acc)
    assert acc.early == 0, acc.line()  # a clock five minutes fast would fire five minutes early
    assert acc.lag_p99 < 3.0, acc.line()
