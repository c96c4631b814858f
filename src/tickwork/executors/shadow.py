"""Shadow mode: every run is recorded ``shadowed`` with what would have run; nothing runs.

A staging environment runs the real config with ``tickwork run --shadow`` (or
``Tickwork(shadow=True)``, or ``TICKWORK_SHADOW=1``): the scheduler and the workers work as
usual (fires, catch-up, overlap, claims, leases), only the executor is this one. The run's
``output`` holds a JSON description of what would have run: the task reference and the
context it would get, or the command line, shell, working directory, timeout and the
environment, with secret-looking values hidden (``tickwork.redaction``).
"""

from __future__ import annotations

import json
import threading
from typing import Any

from tickwork.context import TaskContext
from tickwork.executors import Executors
from tickwork.executors.base import Execution, Stopwatch, task_environment
from tickwork.model import Outcome, RunState
from tickwork.redaction import redact_env, redact_text

__all__ = ["ShadowExecutors", "would_run"]


def would_run(execution: Execution) -> dict[str, Any]:
    """What ``execution`` would have run, fit to store: no secrets."""
    detail: dict[str, Any] = {
        "shadow": True,
        "timeout_s": execution.timeout.total_seconds() if execution.timeout else None,
    }
    if execution.command is not None:
        detail |= {
            "kind": "command",
            "command": redact_text(execution.command),
            "shell": execution.shell,
            "cwd": execution.cwd,
            # stdin is the schedule's own text and may hold anything: only its size is kept.
            "stdin_chars": len(execution.stdin) if execution.stdin is not None else None,
            # tickwork's own TICKWORK_* variables are no secrets (the idempotency KEY is not).
            "env": {**redact_env(execution.env), **task_environment(execution)},
        }
        return detail
    return detail | {
        "kind": "task",
        "task": execution.task_ref,
        "isolated": execution.isolated,
        # A task is called with its context only: these are its values.
        "arguments": {
            "context": {
                "run_id": execution.run_id,
                "schedule": execution.schedule,
                "attempt": execution.attempt,
                "nominal_fire": execution.nominal_fire.isoformat(),
                "idempotency_key": execution.idempotency_key,
            }
        },
        "env": redact_env(dict(execution.env)) if execution.isolated else None,
    }


class ShadowExecutors(Executors):
    """``Executors`` that record instead of running: every attempt ends ``shadowed``."""

    def execute(
        self,
        execution: Execution,
        context: TaskContext,
        cancel: threading.Event,
        *,
        inline: bool = False,
    ) -> Outcome:
        watch = Stopwatch()
        output = json.dumps(would_run(execution), sort_keys=True)
        return watch.outcome(RunState.shadowed, output=output)
