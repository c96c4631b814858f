"""Tasks for isolated runs: imported by the child process as ``sample_tasks:<name>``
(``PYTHONPATH`` points at this directory; see ``support.isolated``)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path

from tickwork.context import TaskContext

NOT_CALLABLE = 42


def succeed() -> None:
    print("hello from the child")


def report_context(context: TaskContext) -> None:
    """Prints the context the child rebuilt, as JSON, and where the task runs."""
    fields = {
        "run_id": context.run_id,
        "schedule": context.schedule,
        "attempt": context.attempt,
        "nominal_fire": context.nominal_fire.isoformat(),
        "idempotency_key": context.idempotency_key,
        "pid": os.getpid(),
        "result_fd_visible": "TICKWORK_RESULT_FD" in os.environ,
    }
    print(json.dumps(fields))


def fail() -> None:
    raise ValueError("boom in the child")


def exit_three() -> None:
    sys.exit(3)


async def async_report(ctx: TaskContext) -> None:
    await asyncio.sleep(0)
    print(f"async {ctx.schedule} attempt {ctx.attempt}")


def _write_pid() -> None:
    Path(os.environ["PID_FILE"]).write_text(str(os.getpid()))


def sleep_with_cleanup() -> None:
    """Sleeps far past any test timeout; SIGTERM ends it through its ``finally``."""
    _write_pid()
    try:
        time.sleep(30)
    finally:
        print("cleaned up")


def ignore_sigterm() -> None:
    """Only SIGKILL stops this one."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _write_pid()
    time.sleep(30)


async def async_sleep_with_cleanup() -> None:
    _write_pid()
    try:
        await asyncio.sleep(30)
    except asyncio.CancelledError:
        print("coroutine cancelled")
        raise


def cooperative(context: TaskContext) -> None:
    """Polls its cancel flag, which SIGTERM sets before the task is stopped."""
    _write_pid()
    print("waiting", flush=True)
    try:
        while not context.cancelled.is_set():
            time.sleep(0.01)
    finally:
        print(f"cancelled flag: {context.cancelled.is_set()}")
