"""``tickwork run`` serves the API, dashboard, /health, /ready and /metrics beside the engine
and stops the web server only after the drain; ``tickwork api`` serves without loops; a port
in use is exit code 3."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tickwork.model import RunState

from .conftest import TICKWORK, Processes, all_runs, wait_for, write_config

SCHEDULE = """
[[schedule]]
name = "tick"
every = "1s"
command = "true"
"""


def served_url(processes: Processes, index: int) -> str:
    """The URL a process logged it serves on (it was started with --port 0)."""
    found: list[str] = []

    def logged() -> bool:
        match = re.search(r"serving HTTP on (http://127\.0\.0\.1:\d+)", processes.logs()[index])
        if match:
            found.append(match.group(1))
        return bool(match)

    wait_for(logged, 60, "the web server to listen")
    return found[0]


def test_run_serves_beside_the_engine_and_stops_after_the_drain(
    tmp_path: Path, processes: Processes
) -> None:
    db = tmp_path / "tw.db"
    config = write_config(tmp_path / "tickwork.toml", db, SCHEDULE, stop_grace="1s")
    proc = processes.start(config)  # --port 0 (conftest)
    base = served_url(processes, 0)
    wait_for(lambda: httpx.get(f"{base}/ready").status_code == 200, 60, "ready")
    assert httpx.get(f"{base}/ready").json()["checks"] == {"database": "ok", "loops": "ok"}
    wait_for(lambda: any(r.state is RunState.succeeded for r in all_runs(db)), 60, "a run")
    families = {
        f.name: f for f in text_string_to_metric_families(httpx.get(f"{base}/metrics").text)
    }
    succeeded = [
        s.value for s in families["tickwork_runs"].samples if s.labels["state"] == "succeeded"
    ]
    assert succeeded
    assert succeeded[0] >= 1
    assert httpx.get(f"{base}/openapi.json").status_code == 200
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    actions = [
        json.loads(line).get("action")
        for line in processes.logs()[0].splitlines()
        if line.startswith("{")
    ]
    # The drain first (the web server still answering), then the web server.
    assert actions.index("worker_stopped") < actions.index("web_stopped")


def test_run_no_web_listens_on_nothing(tmp_path: Path, processes: Processes) -> None:
    db = tmp_path / "tw.db"
    config = write_config(tmp_path / "tickwork.toml", db, SCHEDULE)
    proc = processes.start(config, "--no-web")
    wait_for(lambda: any(r.state is RunState.succeeded for r in all_runs(db)), 60, "a run")
    proc.send_signal(signal.SIGINT)
    assert proc.wait(30) == 0
    assert "serving HTTP" not in processes.logs()[0]


def test_api_serves_without_loops_and_a_taken_port_is_exit_3(
    tmp_path: Path, processes: Processes
) -> None:
    db = tmp_path / "tw.db"
    config = write_config(tmp_path / "tickwork.toml", db, SCHEDULE)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        refused = subprocess.run(
            [*TICKWORK, "api", "--config", str(config), "--port", str(port)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert refused.returncode == 3
    assert f"cannot listen on http://127.0.0.1:{port}" in refused.stderr
    proc = processes.start(config, "--port", "0", command="api")
    base = served_url(processes, 0)
    ready = httpx.get(f"{base}/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "loops": "none in this process"}
    assert all_runs(db) == []  # no scheduler ran, nothing was synced or fired
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
