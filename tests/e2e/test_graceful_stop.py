"""SIGTERM drains: no new claims, running tasks get stop_grace, then their leases are released
so another process can take them at once; the process exits by itself."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from tickwork.model import RunState

from .conftest import Processes, all_runs, in_seconds, wait_for, write_config


def test_sigterm_releases_running_runs_after_the_grace_period(
    tmp_path: Path, processes: Processes
) -> None:
    db = tmp_path / "tw.db"
    config = write_config(
        tmp_path / "tickwork.toml",
        db,
        f"""
[[schedule]]
name = "long"
at = "{in_seconds(1)}"  # passed by the time it is stored: within misfire_grace
command = "sleep 60"
""",
        stop_grace="1s",
    )
    proc = processes.start(config)
    wait_for(lambda: any(r.state is RunState.running for r in all_runs(db)), 30, "a running run")
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0
    assert time.monotonic() - started < 10
    (run,) = all_runs(db)
    assert (run.state, run.attempt, run.lease_owner) == (RunState.queued, 0, None)
    log = (tmp_path / "process-0.log").read_text()
    assert "signal SIGTERM" in log
    assert "worker_stopping" in log
