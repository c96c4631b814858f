"""Real `tickwork run` processes on a real SQLite file and real time. Each test bounds its
window with end_at and waits on database state (polling with a deadline), never on a fixed
sleep for a schedule."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tickwork.model import Run
from tickwork.store import open_store
from tickwork.store.base import RunFilter

TICKWORK = [sys.executable, "-m", "tickwork"]


def write_config(path: Path, db: Path, schedules: str, **settings: str) -> Path:
    lines = ["[tickwork]", f'database_url = "sqlite:///{db}"']
    lines += [f'{k} = "{v}"' for k, v in settings.items()]
    path.write_text("\n".join(lines) + "\n\n" + schedules)
    return path


def in_seconds(seconds: float) -> str:
    instant = datetime.now(UTC) + timedelta(seconds=seconds)
    return instant.replace(microsecond=0).isoformat()


class Processes:
    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, config: Path, *extra: str) -> subprocess.Popen[bytes]:
        log = open(self.cwd / f"process-{len(self.procs)}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [*TICKWORK, "run", "--config", str(config), *extra],
            cwd=self.cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    procs = Processes(tmp_path)
    yield procs
    procs.stop_all()


def all_runs(db: Path) -> list[Run]:
    store = open_store(f"sqlite:///{db}")
    try:
        return store.list_runs(RunFilter(limit=1_000_000))
    finally:
        store.close()


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except Exception:  # the database may not exist yet
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def soak_seconds(default: int) -> int:
    """Bounded by default; TICKWORK_SOAK_SECONDS=N runs the long form."""
    return int(os.environ.get("TICKWORK_SOAK_SECONDS", default))
