"""``tickwork api --workers 2``: two processes serve one socket, each answering with the
config the parent read; SIGTERM stops them all with exit code 0; a taken port is exit 3."""

from __future__ import annotations

import signal
import socket
import subprocess
from pathlib import Path

import httpx

from tickwork.app import Tickwork
from tickwork.config import load_config
from tickwork.tokens import create_token

from .conftest import TICKWORK, Processes, write_config
from .test_web_commands import SCHEDULE, served_url


def test_two_processes_serve_the_api_and_stop_on_sigterm(
    tmp_path: Path, processes: Processes
) -> None:
    config = write_config(tmp_path / "tickwork.toml", tmp_path / "tw.db", SCHEDULE)
    tw = Tickwork(config=load_config(config))
    tw.sync()
    token, _ = create_token(tw, "reader", "read")
    tw.close()
    proc = processes.start(config, "--port", "0", "--workers", "2", command="api")
    base = served_url(processes, 0)
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as http:
        answers = [http.get("/api/v1/schedules", timeout=30) for _ in range(20)]
        assert {a.status_code for a in answers} == {200}
        assert [s["name"] for s in answers[0].json()["items"]] == ["tick"]
        ready = http.get("/ready", timeout=30)
        assert ready.json()["checks"] == {"database": "ok", "loops": "none in this process"}
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0


def test_a_taken_port_is_exit_3_before_any_process_starts(tmp_path: Path) -> None:
    config = write_config(tmp_path / "tickwork.toml", tmp_path / "tw.db", SCHEDULE)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        refused = subprocess.run(
            [*TICKWORK, "api", "--config", str(config), "--port", str(port), "--workers", "2"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert refused.returncode == 3
    assert f"cannot listen on 127.0.0.1:{port}" in refused.stderr
