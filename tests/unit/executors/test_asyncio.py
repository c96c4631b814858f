from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from tickwork.context import TaskContext
from tickwork.executors import AsyncioExecutor, Executors, context_for, executor_kind
from tickwork.model import Outcome, RunState

from .support import make_execution

Canceller = Callable[[threading.Event, float], None]


@pytest.fixture
def executor() -> Iterator[AsyncioExecutor]:
    executor = AsyncioExecutor(grace=0.2)
    yield executor
    executor.close()


def run(
    executor: AsyncioExecutor, target: Callable[..., Any], **fields: Any
) -> tuple[Outcome, TaskContext]:
    execution = make_execution(target=target, **fields)
    context = context_for(execution)
    return executor.execute(execution, context, threading.Event()), context


def test_success_with_the_context(executor: AsyncioExecutor) -> None:
    seen: list[TaskContext] = []

    async def task(context: TaskContext) -> None:
        await asyncio.sleep(0)
        seen.append(context)

    outcome, context = run(executor, task)

    assert outcome.state is RunState.succeeded
    assert outcome.duration is not None
    assert seen == [context]


async def _boom() -> None:
    await asyncio.sleep(0)
    raise KeyError("missing")


def test_an_exception_fails_the_run_with_its_traceback(executor: AsyncioExecutor) -> None:
    outcome, _ = run(executor, _boom)

    assert outcome.state is RunState.failed
    assert outcome.error is not None
    assert outcome.error.startswith("Traceback (most recent call last):")
    assert "in _boom" in outcome.error
    assert outcome.error.endswith("KeyError: 'missing'")


def test_timeout_really_cancels_the_coroutine(executor: AsyncioExecutor) -> None:
    cleaned_up = threading.Event()

    async def slow() -> None:
        try:
            await asyncio.sleep(30)
        finally:
            cleaned_up.set()

    outcome, context = run(executor, slow, timeout=timedelta(seconds=0.2))

    assert outcome.state is RunState.timed_out
    assert outcome.error == "timed out after 0.2s; the coroutine was cancelled"
    assert cleaned_up.is_set()
    assert context.cancelled.is_set()
    assert outcome.duration is not None
    assert timedelta(seconds=0.2) <= outcome.duration < timedelta(seconds=1)


def test_the_tasks_own_timeout_error_is_a_failure(executor: AsyncioExecutor) -> None:
    async def own_timeout() -> None:
        async with asyncio.timeout(0):
            await asyncio.sleep(1)

    outcome, _ = run(executor, own_timeout, timeout=timedelta(seconds=5))

    assert outcome.state is RunState.failed
    assert outcome.error is not None
    assert "TimeoutError" in outcome.error


def test_a_coroutine_swallowing_its_timeout_is_abandoned(executor: AsyncioExecutor) -> None:
    async def stubborn() -> None:
        with contextlib.suppress(asyncio.CancelledError):  # swallowed: the scope cannot stop it
            await asyncio.sleep(30)
        await asyncio.sleep(5)  # the executor's second cancel lands here

    outcome, _ = run(executor, stubborn, timeout=timedelta(seconds=0.2))

    assert outcome.state is RunState.timed_out
    assert outcome.error is not None
    assert "ignored its cancellation" in outcome.error
    assert outcome.duration is not None
    assert outcome.duration < timedelta(seconds=1.5)


def test_cancel_cancels_the_coroutine(executor: AsyncioExecutor, cancel_after: Canceller) -> None:
    got_cancelled = threading.Event()

    async def waiting() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            got_cancelled.set()
            raise

    execution = make_execution(target=waiting)
    context, cancel = context_for(execution), threading.Event()
    cancel_after(cancel, 0.2)

    outcome = executor.execute(execution, context, cancel)

    assert outcome.state is RunState.cancelled
    assert got_cancelled.is_set()
    assert context.cancelled.is_set()
    assert outcome.duration is not None
    assert outcome.duration < timedelta(seconds=1)


def test_runs_share_one_loop_and_overlap(executor: AsyncioExecutor) -> None:
    loops: list[int] = []
    outcomes: list[Outcome] = []

    async def nap() -> None:
        loops.append(id(asyncio.get_running_loop()))
        await asyncio.sleep(0.3)

    def worker() -> None:
        outcomes.append(run(executor, nap)[0])

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [o.state for o in outcomes] == [RunState.succeeded] * 3
    assert len(set(loops)) == 1
    assert time.monotonic() - started < 0.8  # concurrent, not 3 x 0.3 s


def test_the_loop_starts_lazily_and_close_stops_it() -> None:
    executor = AsyncioExecutor()
    before = {t.name for t in threading.enumerate()}
    assert "tickwork-asyncio" not in before

    async def noop() -> None:
        pass

    run(executor, noop)
    [loop_thread] = [t for t in threading.enumerate() if t.name == "tickwork-asyncio"]
    executor.close()

    assert not loop_thread.is_alive()
    executor.close()  # idempotent


def test_close_cancels_what_still_runs(cancel_after: Canceller) -> None:
    executor = AsyncioExecutor(grace=0.2)
    started = threading.Event()

    async def forever() -> None:
        started.set()
        await asyncio.sleep(30)

    outcomes: list[Outcome] = []
    thread = threading.Thread(target=lambda: outcomes.append(run(executor, forever)[0]))
    thread.start()
    assert started.wait(2)
    executor.close()
    thread.join(2)

    assert [o.state for o in outcomes] == [RunState.cancelled]


class AsyncCallable:
    async def __call__(self, ctx: TaskContext) -> None:
        await asyncio.sleep(0)


async def _with_arg(x: int, context: TaskContext) -> None:
    await asyncio.sleep(0)


def _sync() -> None:
    pass


@pytest.mark.parametrize(
    ("target", "kind"),
    [
        (_boom, "asyncio"),
        (functools.partial(_with_arg, 1), "asyncio"),
        (AsyncCallable(), "asyncio"),
        (_sync, "thread"),
    ],
    ids=["async-def", "partial", "async-call", "sync"],
)
def test_routing_by_callable(target: Callable[..., Any], kind: str) -> None:
    assert executor_kind(make_execution(target=target)) == kind


def test_executors_route_async_callables_to_the_loop() -> None:
    executors = Executors()
    try:
        outcome, _ = run(executors.asyncio, AsyncCallable())
        routed = executors.execute(
            make_execution(target=functools.partial(_with_arg, 1)),
            context_for(make_execution()),
            threading.Event(),
        )
    finally:
        executors.close()

    assert outcome.state is RunState.succeeded
    assert routed.state is RunState.succeeded
