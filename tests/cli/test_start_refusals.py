"""Starts that must refuse do so before any port opens (run --require-applied, --shadow on
a live database), and a trigger of a paused schedule says it is paused."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tickwork.app import Tickwork
from tickwork.cli import cli
from tickwork.config import load_config
from tickwork.store.base import RunFilter

CONFIG = """
[tickwork]
database_url = "sqlite:///{db}"

[[schedule]]
name = "hello"
cron = "*/5 * * * *"
command = "{command}"
"""


def write(tmp_path: Path, name: str, command: str = "echo hello") -> str:
    path = tmp_path / f"{name}.toml"
    path.write_text(CONFIG.format(db=tmp_path / "tw.db", command=command))
    return str(path)


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port something else listens on: a start that tried to serve would exit 3."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Tickwork]:
    """A live process registered (heartbeat now) on the config's database."""
    tw = Tickwork(config=load_config(write(tmp_path, "live")), worker_id="live")
    tw.sync()
    tw.register("scheduler,worker")
    yield tw
    tw.close()


def test_require_applied_refuses_before_serving_http(tmp_path: Path, taken_port: int) -> None:
    invoke("apply", "-c", write(tmp_path, "v1"))
    v2 = write(tmp_path, "v2", command="echo changed")
    refused = invoke("run", "-c", v2, "--require-applied", "--port", str(taken_port))
    assert refused.exit_code == 2, refused.output
    assert "differs from the stored schedules" in refused.output
    assert "cannot listen" not in refused.output
    assert "serving HTTP" not in refused.output


def test_shadow_on_a_live_database_refuses_before_serving_http(
    tmp_path: Path, live: Tickwork, taken_port: int
) -> None:
    config = write(tmp_path, "live")
    refused = invoke("run", "-c", config, "--shadow", "--port", str(taken_port))
    assert refused.exit_code == 2, refused.output
    me = f"{socket.gethostname()}:{os.getpid()}"
    assert f"error: shadow mode refused: live worker {me} (live" in refused.output
    assert "expected a staging database of its own" in refused.output
    assert "cannot listen" not in refused.output
    worker = invoke("worker", "-c", config, "--shadow")
    assert worker.exit_code == 2, worker.output
    assert "shadow mode refused" in worker.output
    assert [w.id for w in live.store.list_workers()] == ["live"]  # nothing registered
    assert live.store.list_runs(RunFilter()) == []  # nothing claimed, nothing recorded shadowed


def test_trigger_of_a_paused_schedule_says_so_and_runs(tmp_path: Path, live: Tickwork) -> None:
    config = write(tmp_path, "live")
    plain = invoke("trigger", "hello", "-c", config)
    assert plain.exit_code == 0, plain.output
    assert "paused" not in plain.output
    assert (
        json.loads(invoke("trigger", "hello", "-c", config, "--json").stdout)["schedule_paused"]
        is False
    )
    invoke("pause", "hello", "-c", config)
    paused = invoke("trigger", "hello", "-c", config)
    assert paused.exit_code == 0, paused.output
    queued, note = paused.stdout.strip().splitlines()
    assert queued.startswith("run 3 of hello queued")
    assert note == (
        "note: hello is paused; only this manual run goes ahead, its fire times stay "
        "skipped until `tickwork resume hello`"
    )
    shown = json.loads(invoke("trigger", "hello", "-c", config, "--json").stdout)
    assert (shown["schedule_paused"], shown["kind"], shown["state"]) == (True, "manual", "queued")
    assert len(live.store.list_runs(RunFilter())) == 4
