"""The FastAPI example under ``uvicorn --workers 4``: four processes, each running a scheduler
and a worker in its lifespan, on one SQLite file and on PostgreSQL. Every nominal fire of an
every-second schedule in the window has exactly one run, executed once, none missing; and
/tickwork/metrics (multiprocess mode) counts the runs of all four processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tickwork.model import TERMINAL_STATES, RunState
from tickwork.store import open_store
from tickwork.store.base import RunFilter

from .conftest import soak_seconds, wait_for

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 4
SCHEDULE = "write_report"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tw.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def service(tmp_path: Path, database_url: str) -> Iterator[tuple[str, Path]]:
    """The example under ``uvicorn --workers 4``; yields its URL and the task's file."""
    reports = tmp_path / "reports.log"
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    port = free_port()
    env = {
        **os.environ,
        "TICKWORK_DATABASE_URL": database_url,
        "REPORTS_FILE": str(reports),
        "REPORT_EVERY": "1s",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    args = ["examples.fastapi_service.app:app", "--workers", str(WORKERS), "--port", str(port)]
    with open(tmp_path / "uvicorn.log", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", *args], cwd=ROOT, env=env, stdout=log, stderr=log
        )
    try:
        yield f"http://127.0.0.1:{port}", reports
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
        assert code == 0, (tmp_path / "uvicorn.log").read_text()[-3000:]


def test_four_uvicorn_workers_run_each_fire_exactly_once(
    service: tuple[str, Path], database_url: str
) -> None:
    base, reports = service
    store = open_store(database_url)
    try:
        wait_for(
            lambda: len([w for w in store.list_workers() if "scheduler" in w.roles]) == WORKERS,
            90,
            f"{WORKERS} uvicorn workers to register their loops",
        )
        assert httpx.get(f"{base}/tickwork/ready", timeout=10).status_code == 200
        seconds = soak_seconds(15)
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
        end = start + timedelta(seconds=seconds)
        # The window itself is wall time (real processes); the fires are not waited for one
        # by one: afterwards, until every run of the window is finished.
        time.sleep(max(0.0, (end - datetime.now(UTC)).total_seconds()) + 1)

        def window() -> list[tuple[datetime, RunState]]:
            runs = store.list_runs(RunFilter(schedule=SCHEDULE, since=start, limit=100_000))
            return [(r.nominal_fire, r.state) for r in runs if r.nominal_fire <= end]

        wait_for(
            lambda: (
                len(window()) >= seconds + 1
                and all(state in TERMINAL_STATES for _, state in window())
            ),
            60,
            "every run of the window to finish",
        )
        runs = window()
        workers = store.list_workers()
    finally:
        store.close()
    expected = {start + timedelta(seconds=k) for k in range(seconds + 1)}
    per_fire = Counter(fire for fire, _ in runs)
    assert set(per_fire) == expected  # none missing, none extra
    assert set(per_fire.values()) == {1}  # one run row per fire time
    assert {state for _, state in runs} == {RunState.succeeded}
    # Executed once: the task's lines, by idempotency key.
    lines = [line.split() for line in reports.read_text().splitlines()]
    executions = Counter(key for key, *_ in lines)
    keys = {f"{SCHEDULE}@{fire.isoformat()}" for fire in expected}
    assert {k: executions[k] for k in keys} == dict.fromkeys(keys, 1)
    pids = Counter(pid for key, pid, _ in lines if key in keys)
    assert len(workers) == WORKERS
    # /metrics in multiprocess mode: the durations of every process's runs, merged.
    text = httpx.get(f"{base}/tickwork/metrics", timeout=10).text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    observed = sum(
        s.value
        for s in families["tickwork_run_duration_seconds"].samples
        if s.name == "tickwork_run_duration_seconds_count" and s.labels["schedule"] == SCHEDULE
    )
    assert observed >= len(expected), (observed, pids)
    finished = [
        s.value
        for s in families["tickwork_runs"].samples
        if s.labels == {"schedule": SCHEDULE, "state": "succeeded"}
    ]
    (total,) = finished
    assert total >= len(expected)
