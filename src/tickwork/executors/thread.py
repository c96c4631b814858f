"""Run sync callables in a helper thread of the worker's process.

The timeout is soft: Python cannot kill a thread. On timeout (or cancel) the executor sets
``context.cancelled``, waits up to ``grace`` for the task to notice and return, and then
reports ``timed_out`` (or ``cancelled``) anyway, abandoning the thread: it is a daemon
thread, it may keep running, its result is dropped. Tasks that must be stopped for sure
run with ``isolated=True`` (``SubprocessExecutor``: a child process, a hard timeout).

``run_here`` is the worker's shortcut for a task without a timeout: the task runs in the
worker's own (daemon) slot thread, with no helper thread to hand it to and back.
"""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from tickwork.context import TaskContext, call_task
from tickwork.executors.base import (
    Execution,
    GuardedExecutor,
    Stopwatch,
    failure,
    format_seconds,
    wait_until_done,
)
from tickwork.model import Outcome, RunState

__all__ = ["ThreadExecutor"]


class _Attempt:
    """The callable's side: runs in the helper thread, reports through ``done``."""

    def __init__(self, target: Callable[..., Any], context: TaskContext) -> None:
        self.target = target
        self.context = context
        self.done = threading.Event()
        self.error: str | None = None
        self.abandoned = False

    def run(self) -> None:
        try:
            result = call_task(self.target, self.context)
            if inspect.isawaitable(result):
                if inspect.iscoroutine(result):
                    result.close()  # never awaited: close it so no warning leaks
                self.error = (
                    f"{self.target!r} returned an awaitable; declare it `async def` so "
                    "the asyncio executor awaits it"
                )
        except BaseException as exc:  # the task's failure is the outcome, SystemExit too
            self.error = failure(exc)
        finally:
            self.done.set()
            if self.abandoned:
                self.context.logger.warning("abandoned task thread has finished")


class ThreadExecutor(GuardedExecutor):
    """Runs ``execution.target`` (a sync callable) in a daemon helper thread and waits
    for it, its timeout or ``cancel``, whichever comes first.

    The helper thread is used even without a timeout, so that ``cancel`` always makes
    ``execute`` return (the worker must be able to give the lease back on shutdown).
    """

    kind = "thread"

    def __init__(self, *, grace: timedelta | float = 1.0) -> None:
        self.grace = grace.total_seconds() if isinstance(grace, timedelta) else float(grace)

    def run_here(
        self, execution: Execution, context: TaskContext, cancel: threading.Event
    ) -> Outcome:
        """Run ``execution`` (no timeout) in the calling thread; never raises.

        For a caller whose thread is a daemon thread it can give up on (the worker's slots):
        no helper thread, so no hand-off. A cancel is only the request ``context.cancelled``
        makes; ``run_here`` returns when the task does (a task that ignores the request keeps
        the calling thread). A cancel that came before the start runs nothing."""
        watch = Stopwatch()
        if execution.timeout is not None:
            return self.execute(execution, context, cancel)  # the deadline needs the helper
        if cancel.is_set():
            context.cancelled.set()
            return watch.outcome(RunState.cancelled, error="cancelled before it started")
        if execution.target is None:
            return watch.outcome(RunState.failed, error="nothing to run: no target callable")
        attempt = _Attempt(execution.target, context)
        attempt.run()
        if attempt.error is not None:
            return watch.outcome(RunState.failed, error=attempt.error)
        return watch.outcome(RunState.succeeded)

    def _execute(
        self,
        execution: Execution,
        context: TaskContext,
        cancel: threading.Event,
        watch: Stopwatch,
    ) -> Outcome:
        if execution.target is None:
            return watch.outcome(RunState.failed, error="nothing to run: no target callable")
        attempt = _Attempt(execution.target, context)
        thread = threading.Thread(
            target=attempt.run,
            name=f"tickwork-task-{execution.schedule}-{execution.run_id}",
            daemon=True,
        )
        thread.start()
        timeout = execution.timeout
        deadline = None if timeout is None else time.monotonic() + timeout.total_seconds()
        how = wait_until_done(attempt.done.wait, cancel, deadline)
        if how == "done":
            thread.join()
            if attempt.error is not None:
                return watch.outcome(RunState.failed, error=attempt.error)
            return watch.outcome(RunState.succeeded)

        context.cancelled.set()
        stopped = attempt.done.wait(self.grace)
        if stopped:
            thread.join()
            after = (
                f"the task ended within {format_seconds(self.grace)} of being asked to stop "
                "through context.cancelled"
            )
        else:
            attempt.abandoned = True
            after = (
                f"the task did not stop within {format_seconds(self.grace)} of being asked "
                "through context.cancelled; its thread was abandoned and may still be running"
            )
        if how == "timed_out":
            assert timeout is not None
            return watch.outcome(
                RunState.timed_out,
                error=(
                    f"timed out after {format_seconds(timeout)} (soft timeout: a thread "
                    f"cannot be killed; isolated=True gives a hard one); {after}"
                ),
            )
        return watch.outcome(RunState.cancelled, error=f"cancelled; {after}")
