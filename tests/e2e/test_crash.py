"""Promise 3: a `tickwork run` killed with SIGKILL while runs are in flight; after a restart
every fire time of the window has exactly one run row in a terminal state, and the runs that
were in flight are taken back and retried."""

from __future__ import annotations

import signal
from datetime import datetime, timedelta
from pathlib import Path

from tickwork.model import TERMINAL_STATES, RunState
from tickwork.store import open_store

from .conftest import Processes, all_runs, in_seconds, wait_for, write_config


def test_sigkill_mid_run_then_restart_accounts_for_every_fire(
    tmp_path: Path, processes: Processes
) -> None:
    db = tmp_path / "tw.db"
    start, end = in_seconds(2), in_seconds(14)
    config = write_config(
        tmp_path / "tickwork.toml",
        db,
        f"""
[[schedule]]
name = "tick"
cron = "* * * * * *"
command = "sleep 1.5"
overlap = "allow"
retries = 3
backoff = "1s"
start_at = "{start}"
end_at = "{end}"
""",
        lease="2s",
    )
    first = processes.start(config)

    def running() -> bool:
        return sum(r.state is RunState.running for r in all_runs(db)) >= 2

    wait_for(running, 30, "two runs in flight")
    in_flight = {r.id for r in all_runs(db) if r.state is RunState.running}
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    processes.start(config)
    end_at = datetime.fromisoformat(end)

    def settled() -> bool:
        runs = all_runs(db)
        return (
            bool(runs)
            and max(r.nominal_fire for r in runs) >= end_at
            and all(r.state in TERMINAL_STATES for r in runs)
        )

    wait_for(settled, 60, "every run of the window to finish")
    runs = all_runs(db)
    fires = sorted(r.nominal_fire for r in runs)
    expected = [datetime.fromisoformat(start) + timedelta(seconds=i) for i in range(13)]
    assert fires == expected, "one row per fire time, none lost, none doubled"
    retried = [r for r in runs if r.id in in_flight]
    assert retried
    assert all(r.attempt >= 2 and r.state is RunState.succeeded for r in retried)
    store = open_store(f"sqlite:///{db}")
    try:
        assert all(
            "run_lease_expired" in [e.event for e in store.run_events(r.id)] for r in retried
        )
    finally:
        store.close()
    print(
        f"crash test: {len(runs)} fires, {len(retried)} in flight at SIGKILL, all retried; "
        f"states {sorted({r.state.value for r in runs})}"
    )
