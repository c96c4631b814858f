from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import timedelta

import pytest

from tickwork.context import TaskContext
from tickwork.executors import ThreadExecutor, context_for
from tickwork.model import Outcome, RunState

from .support import make_execution

Canceller = Callable[[threading.Event, float], None]


def run(
    target: Callable[..., object], executor: ThreadExecutor | None = None, **fields: object
) -> tuple[Outcome, TaskContext]:
    execution = make_execution(target=target, **fields)
    context = context_for(execution)
    outcome = (executor or ThreadExecutor()).execute(execution, context, threading.Event())
    return outcome, context


def test_success_reports_succeeded_with_a_duration() -> None:
    calls: list[str] = []

    outcome, _ = run(lambda: calls.append(threading.current_thread().name))

    assert outcome.state is RunState.succeeded
    assert outcome.error is None
    assert outcome.exit_code is None
    assert outcome.duration is not None
    assert outcome.duration >= timedelta(0)
    assert calls == ["tickwork-task-nightly-7"]


def test_a_task_taking_one_parameter_receives_the_context() -> None:
    seen: list[TaskContext] = []

    outcome, context = run(seen.append)

    assert outcome.state is RunState.succeeded
    assert seen == [context]
    assert (context.run_id, context.schedule, context.attempt) == (7, "nightly", 2)
    assert context.idempotency_key == "nightly@2024-03-05T02:00:00+00:00"


def _boom() -> None:
    raise ValueError("boom")


def test_an_exception_fails_the_run_with_its_traceback() -> None:
    outcome, _ = run(_boom)

    assert outcome.state is RunState.failed
    assert outcome.error is not None
    assert outcome.error.startswith("Traceback (most recent call last):")
    assert "in _boom" in outcome.error
    assert outcome.error.endswith("ValueError: boom")
    assert "executors/thread.py" not in outcome.error  # the task's frames, not ours


def test_system_exit_in_a_task_is_a_failure_not_an_exit() -> None:
    def leave() -> None:
        raise SystemExit(3)

    outcome, _ = run(leave)

    assert outcome.state is RunState.failed
    assert outcome.error is not None
    assert "SystemExit: 3" in outcome.error


def test_soft_timeout_sets_the_cancel_flag_and_reports_timed_out() -> None:
    threads: list[threading.Thread] = []

    def cooperative(context: TaskContext) -> None:
        threads.append(threading.current_thread())
        context.cancelled.wait(10)

    outcome, context = run(cooperative, timeout=timedelta(seconds=0.2))
    threads[0].join(2)

    assert outcome.state is RunState.timed_out
    assert outcome.error is not None
    assert "timed out after 0.2s" in outcome.error
    assert "soft timeout" in outcome.error
    assert "isolated=True" in outcome.error
    assert "ended within" in outcome.error
    assert context.cancelled.is_set()
    assert outcome.duration is not None
    assert timedelta(seconds=0.2) <= outcome.duration < timedelta(seconds=1.5)
    assert not threads[0].is_alive()


def test_a_task_ignoring_the_flag_is_abandoned_after_the_grace() -> None:
    release = threading.Event()
    threads: list[threading.Thread] = []

    def stubborn() -> None:
        threads.append(threading.current_thread())
        release.wait(10)

    try:
        outcome, _ = run(stubborn, ThreadExecutor(grace=0.1), timeout=timedelta(seconds=0.2))
        assert threads[0].is_alive()  # a thread cannot be killed: it is left running
    finally:
        release.set()
        for thread in threads:
            thread.join(2)

    assert outcome.state is RunState.timed_out
    assert outcome.error is not None
    assert "abandoned" in outcome.error
    assert outcome.duration is not None
    assert outcome.duration < timedelta(seconds=1.5)


def test_cancel_during_the_run_returns_cancelled_promptly(cancel_after: Canceller) -> None:
    execution = make_execution(target=lambda context: context.cancelled.wait(10))
    context, cancel = context_for(execution), threading.Event()
    cancel_after(cancel, 0.2)

    outcome = ThreadExecutor().execute(execution, context, cancel)

    assert outcome.state is RunState.cancelled
    assert context.cancelled.is_set()
    assert outcome.duration is not None
    assert outcome.duration < timedelta(seconds=1)


def test_cancel_without_a_timeout_still_returns(cancel_after: Canceller) -> None:
    release = threading.Event()
    execution = make_execution(target=lambda: release.wait(10))
    cancel = threading.Event()
    cancel_after(cancel, 0.1)

    try:
        outcome = ThreadExecutor(grace=0.05).execute(execution, context_for(execution), cancel)
    finally:
        release.set()

    assert outcome.state is RunState.cancelled
    assert outcome.error is not None
    assert "abandoned" in outcome.error


def test_a_cancel_set_before_the_start_runs_nothing() -> None:
    calls: list[int] = []
    execution = make_execution(target=lambda: calls.append(1))
    cancel = threading.Event()
    cancel.set()

    outcome = ThreadExecutor().execute(execution, context_for(execution), cancel)

    assert outcome.state is RunState.cancelled
    assert calls == []


def test_completion_wakes_the_wait_at_once() -> None:
    outcome, _ = run(lambda: None, timeout=timedelta(seconds=30))

    assert outcome.state is RunState.succeeded
    assert outcome.duration is not None
    assert outcome.duration < timedelta(seconds=0.5)


def test_a_sync_callable_returning_a_coroutine_fails_without_leaking_it() -> None:
    async def later() -> None:
        await asyncio.sleep(0)

    outcome, _ = run(lambda: later())

    assert outcome.state is RunState.failed
    assert outcome.error is not None
    assert "async def" in outcome.error


def test_no_target_is_a_failure_not_an_exception() -> None:
    execution = make_execution()

    outcome = ThreadExecutor().execute(execution, context_for(execution), threading.Event())

    assert outcome.state is RunState.failed
    assert outcome.error == "nothing to run: no target callable"


@pytest.mark.parametrize("grace", [0.5, timedelta(milliseconds=500)], ids=["float", "timedelta"])
def test_grace_accepts_seconds_or_a_timedelta(grace: float | timedelta) -> None:
    assert ThreadExecutor(grace=grace).grace == 0.5
