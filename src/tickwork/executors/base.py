"""The executor interface: run one attempt of a task and report an ``Outcome``.

The engine is synchronous: a worker calls ``execute`` from one of its pool threads and
blocks until it returns. An executor is responsible for

- returning exactly one ``Outcome`` with ``state`` in succeeded, failed, timed_out or
  cancelled and ``duration`` measured on the monotonic clock;
- never letting an exception escape (anything unexpected becomes ``failed``);
- honouring ``execution.timeout`` and returning promptly once ``cancel`` is set, and setting
  ``context.cancelled`` in both cases so a cooperative task can stop.

It never writes to the store: the worker records the outcome (fenced by its lease).
"""

from __future__ import annotations

import threading
import time
import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import CodeType
from typing import Any, ClassVar, Literal, Protocol

import tickwork.context as context_module
from tickwork.context import TaskContext
from tickwork.model import Outcome, RunState

__all__ = [
    "ENV_ATTEMPT",
    "ENV_IDEMPOTENCY_KEY",
    "ENV_NOMINAL_FIRE",
    "ENV_RESULT_FD",
    "ENV_RUN_ID",
    "ENV_SCHEDULE",
    "Execution",
    "Executor",
    "Stopwatch",
    "context_for",
    "failure",
    "format_seconds",
    "task_environment",
    "wait_until_done",
]

# The environment a shell command or an isolated callable sees (docs/executors.md).
ENV_RUN_ID = "TICKWORK_RUN_ID"
ENV_SCHEDULE = "TICKWORK_SCHEDULE"
ENV_ATTEMPT = "TICKWORK_ATTEMPT"
ENV_NOMINAL_FIRE = "TICKWORK_NOMINAL_FIRE"
ENV_IDEMPOTENCY_KEY = "TICKWORK_IDEMPOTENCY_KEY"
# Isolated runs only: the pipe the child writes its traceback to (becomes Outcome.error).
ENV_RESULT_FD = "TICKWORK_RESULT_FD"

# Longest wait between two looks at the cancel flag: threading has no wait-for-any-event,
# so a wait on the task's completion is cut into slices this long.
POLL_SECONDS = 0.02


@dataclass(frozen=True, slots=True)
class Execution:
    """One attempt to run: who it is (run, schedule, attempt, fire) and what to run —
    exactly one of ``command`` or a callable (``target`` in process, or ``task_ref`` with
    ``isolated=True`` in a child process)."""

    run_id: int
    schedule: str
    attempt: int
    nominal_fire: datetime  # aware UTC
    idempotency_key: str  # "<schedule>@<UTC ISO>"
    target: Callable[..., Any] | None = None  # a sync or async Python callable
    task_ref: str | None = None  # "module:function" (needed for isolated=True)
    command: str | None = None  # a shell command line
    stdin: str | None = None  # fed to the command's standard input
    env: Mapping[str, str] = field(default_factory=dict)  # per-schedule environment
    shell: str = "/bin/sh"
    cwd: str | None = None
    timeout: timedelta | None = None
    isolated: bool = False  # run the callable in a child process (hard timeout)


class Executor(Protocol):
    def execute(
        self, execution: Execution, context: TaskContext, cancel: threading.Event
    ) -> Outcome:
        """Run ``execution`` once and report what happened; never raises."""
        ...


class GuardedExecutor(ABC):
    """The shape every executor shares: time the attempt, honour a cancel that came before
    it started, and turn the executor's own failures into a failed ``Outcome`` (``execute``
    never raises)."""

    kind: ClassVar[str]

    def execute(
        self, execution: Execution, context: TaskContext, cancel: threading.Event
    ) -> Outcome:
        watch = Stopwatch()
        try:
            if cancel.is_set():
                context.cancelled.set()
                return watch.outcome(RunState.cancelled, error="cancelled before it started")
            return self._execute(execution, context, cancel, watch)
        except Exception as exc:  # the executor's own failure: report it, never raise
            return watch.outcome(RunState.failed, error=f"{self.kind} executor: {failure(exc)}")

    @abstractmethod
    def _execute(
        self,
        execution: Execution,
        context: TaskContext,
        cancel: threading.Event,
        watch: Stopwatch,
    ) -> Outcome:
        """Run one attempt; ``cancel`` was not set when it began."""

    def close(self) -> None:  # noqa: B027 - optional hook; most executors hold nothing
        """Release what the executor holds (threads, loops); nothing by default."""


def context_for(execution: Execution, cancelled: threading.Event | None = None) -> TaskContext:
    """The ``TaskContext`` of ``execution``, with a fresh cancel flag unless given."""
    return TaskContext.create(
        execution.run_id,
        execution.schedule,
        execution.attempt,
        execution.nominal_fire,
        execution.idempotency_key,
        cancelled=cancelled,
    )


def task_environment(execution: Execution) -> dict[str, str]:
    """The ``TICKWORK_*`` variables describing the run (they win over ``execution.env``)."""
    return {
        ENV_RUN_ID: str(execution.run_id),
        ENV_SCHEDULE: execution.schedule,
        ENV_ATTEMPT: str(execution.attempt),
        ENV_NOMINAL_FIRE: execution.nominal_fire.astimezone(UTC).isoformat(),
        ENV_IDEMPOTENCY_KEY: execution.idempotency_key,
    }


class Stopwatch:
    """Monotonic time since construction, for ``Outcome.duration``."""

    __slots__ = ("_start",)

    def __init__(self) -> None:
        self._start = time.monotonic()

    def elapsed(self) -> timedelta:
        return timedelta(seconds=time.monotonic() - self._start)

    def outcome(
        self,
        state: RunState,
        *,
        exit_code: int | None = None,
        error: str | None = None,
        output: str | None = None,
    ) -> Outcome:
        return Outcome(state, exit_code, error, output, self.elapsed())


def failure(exc: BaseException) -> str:
    """The formatted traceback of ``exc``, as ``Outcome.error`` carries it, starting at
    the task's own code: the executor's frames that called it are left out."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None and _is_internal(tb.tb_frame.f_code):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb)).rstrip("\n")


_INTERNAL_FILES = (str(Path(__file__).parent), str(Path(context_module.__file__)))


def _is_internal(code: CodeType) -> bool:
    return code.co_filename.startswith(_INTERNAL_FILES)


def format_seconds(value: timedelta | float) -> str:
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    return f"{seconds:g}s"


def wait_until_done(
    done: Callable[[float], bool], cancel: threading.Event, deadline: float | None
) -> Literal["done", "cancelled", "timed_out"]:
    """Block until ``done(slice)`` reports completion, ``cancel`` is set or the monotonic
    ``deadline`` passes, whichever comes first. ``done`` waits up to ``slice`` seconds
    and returns whether the work finished; completion wakes it at once, cancel within
    ``POLL_SECONDS``."""
    while True:
        if cancel.is_set():
            return "done" if done(0) else "cancelled"
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            return "done" if done(0) else "timed_out"
        wait = POLL_SECONDS if deadline is None else min(POLL_SECONDS, deadline - now)
        if done(wait):
            return "done"
