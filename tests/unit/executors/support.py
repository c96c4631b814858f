"""Shared helpers of the executor tests."""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tickwork.executors import Execution
from tickwork.model import idempotency_key

HERE = Path(__file__).parent
FIRE = datetime(2024, 3, 5, 2, 0, tzinfo=UTC)


def make_execution(**overrides: Any) -> Execution:
    fields: dict[str, Any] = {
        "run_id": 7,
        "schedule": "nightly",
        "attempt": 2,
        "nominal_fire": FIRE,
        "idempotency_key": idempotency_key("nightly", FIRE),
    }
    fields.update(overrides)
    return Execution(**fields)


def isolated(task: str, **overrides: Any) -> Execution:
    """An isolated run of ``sample_tasks:<task>``, importable in the child."""
    env = {"PYTHONPATH": os.pathsep.join([str(HERE), *sys.path])}
    env.update(overrides.pop("env", {}))
    overrides.setdefault("task_ref", f"sample_tasks:{task}")
    return make_execution(isolated=True, env=env, **overrides)


def alive(pid: int) -> bool:
    """Whether ``pid`` runs; a zombie nobody reaped (PID 1 may never) counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rfind(")") + 2] not in "ZX"


def gone_soon(pid: int, within: float = 2.0) -> bool:
    """Whether ``pid`` is gone within ``within`` seconds (a killed orphan's exit is
    asynchronous)."""
    deadline = time.monotonic() + within
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def read_pid(path: Path, within: float = 5.0) -> int:
    deadline = time.monotonic() + within
    while True:
        text = path.read_text().strip() if path.exists() else ""
        if text:
            return int(text)
        if time.monotonic() > deadline:
            raise AssertionError(f"no pid written to {path}")
        time.sleep(0.01)
