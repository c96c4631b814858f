"""Run async callables on one shared event loop in a dedicated daemon thread.

Every coroutine of the process runs on that loop, so a coroutine that blocks (``time.sleep``,
sync I/O) stalls all the others: such work belongs in a sync task. Timeouts are real here:
the coroutine is cancelled (``CancelledError`` is raised at its current ``await``), so its
``finally`` blocks and context managers run. A coroutine that swallows the cancellation is
abandoned ``grace`` seconds later.
"""

from __future__ import annotations

import asyncio
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

__all__ = ["AsyncioExecutor"]


class _Attempt:
    """One coroutine on the loop. ``start`` and ``cancel`` run on the loop thread; the
    worker's thread waits on ``done`` and then reads ``outcome``."""

    def __init__(self, coroutine: Any) -> None:
        self.coroutine = coroutine
        self.done = threading.Event()
        self.task: asyncio.Task[Outcome] | None = None
        self.outcome: Outcome | None = None

    def start(self) -> None:
        try:
            self.task = asyncio.get_running_loop().create_task(self.coroutine)
        except BaseException as exc:  # nothing else would ever set ``done``
            self.coroutine.close()
            self.outcome = Outcome(RunState.failed, error=f"asyncio executor: {failure(exc)}")
            self.done.set()
            return
        self.task.add_done_callback(self._finished)

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def _finished(self, task: asyncio.Task[Outcome]) -> None:
        if not task.cancelled():
            exc = task.exception()
            self.outcome = (
                task.result()
                if exc is None
                else Outcome(RunState.failed, error=f"asyncio executor: {failure(exc)}")
            )
        self.done.set()


class AsyncioExecutor(GuardedExecutor):
    """Runs ``execution.target`` (an ``async def`` callable) on the shared loop, started
    on first use; ``close()`` cancels what still runs and stops the loop."""

    kind = "asyncio"

    def __init__(self, *, grace: timedelta | float = 1.0) -> None:
        self.grace = grace.total_seconds() if isinstance(grace, timedelta) else float(grace)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pending: set[_Attempt] = set()  # guarded by _lock

    def close(self) -> None:
        """Cancel the coroutines still running (waiting up to ``grace`` for them), stop
        the loop and join its thread. A later ``execute`` starts a new loop."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        shutdown = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
        try:
            shutdown.result(timeout=self.grace + 1.0)
        except Exception:  # a blocked loop: stop it anyway below
            shutdown.cancel()
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=self.grace + 1.0)
        if not thread.is_alive():
            loop.close()
        with self._lock:
            stranded, self._pending = self._pending, set()
        for attempt in stranded:  # swallowed the cancellation: release their callers
            attempt.done.set()

    def _loop_for_use(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=self._run_loop, args=(loop,), name="tickwork-asyncio", daemon=True
                )
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    @staticmethod
    def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        loop.run_forever()

    async def _shutdown(self) -> None:
        current = asyncio.current_task()
        tasks = [task for task in asyncio.all_tasks() if task is not current]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=self.grace)
        await asyncio.get_running_loop().shutdown_asyncgens()

    def _execute(
        self,
        execution: Execution,
        context: TaskContext,
        cancel: threading.Event,
        watch: Stopwatch,
    ) -> Outcome:
        if execution.target is None:
            return watch.outcome(RunState.failed, error="nothing to run: no target callable")
        timeout = execution.timeout
        loop = self._loop_for_use()
        attempt = _Attempt(_run(execution.target, context, timeout, watch))
        with self._lock:
            self._pending.add(attempt)
        try:
            loop.call_soon_threadsafe(attempt.start)
        except BaseException:
            attempt.coroutine.close()
            raise
        try:
            return self._wait(attempt, loop, context, cancel, timeout, watch)
        finally:
            with self._lock:
                self._pending.discard(attempt)

    def _wait(
        self,
        attempt: _Attempt,
        loop: asyncio.AbstractEventLoop,
        context: TaskContext,
        cancel: threading.Event,
        timeout: timedelta | None,
        watch: Stopwatch,
    ) -> Outcome:
        # The loop enforces the timeout; this deadline only catches a coroutine that
        # swallowed its cancellation.
        deadline = (
            None if timeout is None else time.monotonic() + timeout.total_seconds() + self.grace
        )
        how = wait_until_done(attempt.done.wait, cancel, deadline)
        if how != "done":
            context.cancelled.set()
            # FIFO: ``start`` has run before this, so the task exists.
            loop.call_soon_threadsafe(attempt.cancel)
            attempt.done.wait(self.grace)
        if attempt.outcome is not None and how != "timed_out":
            return attempt.outcome
        if how == "timed_out":
            assert timeout is not None
            return watch.outcome(
                RunState.timed_out,
                error=(
                    f"timed out after {format_seconds(timeout)}; the coroutine ignored its "
                    "cancellation and was abandoned"
                ),
            )
        if attempt.done.is_set() and how == "done":  # the loop was closed under it
            return watch.outcome(RunState.cancelled, error="cancelled: the executor was closed")
        if attempt.done.is_set():  # cancelled before its first step
            return watch.outcome(RunState.cancelled, error="cancelled")
        return watch.outcome(
            RunState.cancelled,
            error=(
                f"cancelled; the coroutine did not stop within {format_seconds(self.grace)} "
                "and was abandoned"
            ),
        )


async def _run(
    target: Callable[..., Any],
    context: TaskContext,
    timeout: timedelta | None,
    watch: Stopwatch,
) -> Outcome:
    """Await the task under its timeout and turn whatever happens into an ``Outcome``."""
    scope = asyncio.timeout(None if timeout is None else timeout.total_seconds())
    try:
        async with scope:
            result = call_task(target, context)
            if inspect.isawaitable(result):
                await result
    except asyncio.CancelledError:  # cancelled from outside: cancel, or close()
        context.cancelled.set()
        return watch.outcome(RunState.cancelled, error="cancelled; the coroutine was cancelled")
    except TimeoutError as exc:
        if not scope.expired():  # the task's own TimeoutError is a failure like any other
            return watch.outcome(RunState.failed, error=failure(exc))
    except BaseException as exc:  # the task's failure is the outcome
        return watch.outcome(RunState.failed, error=failure(exc))
    if scope.expired():  # raised TimeoutError, or swallowed the cancellation and returned
        assert timeout is not None
        context.cancelled.set()
        return watch.outcome(
            RunState.timed_out,
            error=f"timed out after {format_seconds(timeout)}; the coroutine was cancelled",
        )
    return watch.outcome(RunState.succeeded)
