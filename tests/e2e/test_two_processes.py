"""Promise 1 across processes: two `tickwork run` on one SQLite file; every fire time of the
window has exactly one run, executed once (side effects counted by idempotency key)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

from tickwork.model import TERMINAL_STATES, RunState

from .conftest import Processes, all_runs, in_seconds, soak_seconds, wait_for, write_config

SCHEDULES = 5


def test_two_processes_on_one_sqlite_file_run_each_fire_once(
    tmp_path: Path, processes: Processes
) -> None:
    db = tmp_path / "tw.db"
    effects = tmp_path / "effects.txt"
    seconds = soak_seconds(60)
    start, end = in_seconds(3), in_seconds(3 + seconds)
    tables = "".join(
        f"""
[[schedule]]
name = "s{i}"
cron = "* * * * * *"
command = "echo $TICKWORK_IDEMPOTENCY_KEY >> {effects}"
start_at = "{start}"
end_at = "{end}"
"""
        for i in range(SCHEDULES)
    )
    config = write_config(tmp_path / "tickwork.toml", db, tables)
    processes.start(config)
    processes.start(config)
    end_at = datetime.fromisoformat(end)

    def settled() -> bool:
        runs = all_runs(db)
        return (
            len(runs) >= SCHEDULES * (seconds + 1)
            and all(r.state in TERMINAL_STATES for r in runs)
            and max(r.nominal_fire for r in runs) >= end_at
        )

    wait_for(settled, seconds + 60, "the window's runs to finish")
    runs = all_runs(db)
    per_fire = Counter((r.schedule, r.nominal_fire) for r in runs)
    expected = {
        (f"s{i}", datetime.fromisoformat(start) + timedelta(seconds=k))
        for i in range(SCHEDULES)
        for k in range(seconds + 1)
    }
    assert set(per_fire) == expected
    assert set(per_fire.values()) == {1}
    assert {r.state for r in runs} == {RunState.succeeded}
    written = Counter(effects.read_text().split())
    assert len(written) == len(expected)
    assert set(written.values()) == {1}
    print(
        f"two processes: {len(runs)} fires of {SCHEDULES} schedules over {seconds}s, "
        "one row and one execution each"
    )
