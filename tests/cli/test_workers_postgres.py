"""`tickwork workers` on PostgreSQL: processes of split roles, alive judged by the
database's clock."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner

from tickwork.app import Tickwork
from tickwork.cli import cli
from tickwork.model import WorkerInfo


def test_workers_lists_split_roles_alive_by_the_databases_clock(
    postgres_url: str, tmp_path: Path
) -> None:
    config = tmp_path / "tickwork.toml"
    config.write_text(f'[tickwork]\ndatabase_url = "{postgres_url}"\n')
    scheduler = Tickwork(database_url=postgres_url, worker_id="host-a:1:scheduler")
    worker = Tickwork(database_url=postgres_url, worker_id="host-b:2:worker")
    try:
        scheduler.register("scheduler")
        worker.register("worker")
        now = worker.clock.now()  # the database's clock
        gone = WorkerInfo("host-c:3:gone", "host-c", 3, "0.1.0", "worker", now, now)
        worker.store.register_worker(replace(gone, heartbeat_at=now - timedelta(minutes=10)))
        result = CliRunner().invoke(cli, ["workers", "--config", str(config), "--json"])
    finally:
        scheduler.close()
        worker.close()
    assert result.exit_code == 0, result.output
    listed = {w["id"]: (w["roles"], w["alive"]) for w in json.loads(result.stdout)}
    assert listed == {
        "host-a:1:scheduler": ("scheduler", True),
        "host-b:2:worker": ("worker", True),
        "host-c:3:gone": ("worker", False),
    }
