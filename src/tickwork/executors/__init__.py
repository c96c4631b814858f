"""Executors: run one attempt of a task and report an ``Outcome`` (docs/executors.md).

``Executors`` routes each execution: a shell command or an isolated callable to
``SubprocessExecutor`` (hard timeout), an ``async def`` callable to ``AsyncioExecutor``
(one shared loop), any other callable to ``ThreadExecutor`` (soft timeout).
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable
from typing import Any, Literal

from tickwork.context import TaskContext
from tickwork.executors.asyncio_ import AsyncioExecutor
from tickwork.executors.base import Execution, Executor, Stopwatch, context_for, failure
from tickwork.executors.subprocess import OUTPUT_LIMIT, SubprocessExecutor, task_ref_of
from tickwork.executors.thread import ThreadExecutor
from tickwork.model import Outcome, RunState

__all__ = [
    "OUTPUT_LIMIT",
    "AsyncioExecutor",
    "Execution",
    "Executor",
    "ExecutorKind",
    "Executors",
    "SubprocessExecutor",
    "ThreadExecutor",
    "context_for",
    "executor_kind",
    "is_async_callable",
    "task_ref_of",
]

ExecutorKind = Literal["subprocess", "asyncio", "thread"]


def is_async_callable(target: Callable[..., Any]) -> bool:
    """``async def`` functions, partials of them and objects with an ``async __call__``."""
    while isinstance(target, functools.partial):
        target = target.func
    if inspect.iscoroutinefunction(target):
        return True
    call = getattr(target, "__call__", None)  # noqa: B004 - the method itself, not callability
    return call is not None and inspect.iscoroutinefunction(call)


def executor_kind(execution: Execution) -> ExecutorKind | None:
    """Which executor runs ``execution``; None when it has nothing to run."""
    if execution.command is not None or execution.isolated:
        return "subprocess"
    if execution.target is None:
        return None
    return "asyncio" if is_async_callable(execution.target) else "thread"


class Executors:
    """The three executors of a worker, and the routing between them. Thread-safe:
    a worker's pool threads call ``execute`` at the same time."""

    def __init__(
        self,
        *,
        thread: ThreadExecutor | None = None,
        asyncio: AsyncioExecutor | None = None,
        subprocess: SubprocessExecutor | None = None,
    ) -> None:
        self.thread = thread or ThreadExecutor()
        self.asyncio = asyncio or AsyncioExecutor()
        self.subprocess = subprocess or SubprocessExecutor()

    def select(self, execution: Execution) -> Executor | None:
        """The executor for ``execution`` (see ``executor_kind``)."""
        kind = executor_kind(execution)
        if kind is None:
            return None
        by_kind: dict[ExecutorKind, Executor] = {
            "subprocess": self.subprocess,
            "asyncio": self.asyncio,
            "thread": self.thread,
        }
        return by_kind[kind]

    def execute(
        self,
        execution: Execution,
        context: TaskContext,
        cancel: threading.Event,
        *,
        inline: bool = False,
    ) -> Outcome:
        """Run ``execution`` on its executor; never raises. ``inline``: a sync callable
        without a timeout runs in the calling thread (``ThreadExecutor.run_here``), for a
        caller whose thread may be abandoned (the worker's daemon slot threads)."""
        watch = Stopwatch()
        try:
            executor = self.select(execution)
        except Exception as exc:
            return watch.outcome(RunState.failed, error=f"executor selection: {failure(exc)}")
        if executor is None:
            return watch.outcome(
                RunState.failed,
                error="nothing to run: expected a command, a target callable or a task_ref",
            )
        if inline and executor is self.thread and execution.timeout is None:
            return self.thread.run_here(execution, context, cancel)
        return executor.execute(execution, context, cancel)

    def close(self) -> None:
        """Stop the shared event loop; the other executors hold nothing."""
        self.asyncio.close()
        self.thread.close()
        self.subprocess.close()
