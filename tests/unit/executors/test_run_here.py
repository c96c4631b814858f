"""``ThreadExecutor.run_here`` (the worker's shortcut for sync tasks without a timeout) and
``Executors.execute(inline=True)``: the task runs in the calling thread, with the same
outcomes as through a helper thread."""

from __future__ import annotations

import threading
from datetime import timedelta

from tickwork.executors import Executors, ThreadExecutor, context_for
from tickwork.model import RunState

from .support import make_execution


def test_a_task_without_a_timeout_runs_in_the_calling_thread() -> None:
    seen: list[threading.Thread] = []
    execution = make_execution(target=lambda: seen.append(threading.current_thread()))
    outcome = Executors().execute(execution, context_for(execution), threading.Event(), inline=True)
    assert outcome.state is RunState.succeeded
    assert outcome.duration is not None
    assert seen == [threading.current_thread()]


def test_a_task_with_a_timeout_still_gets_a_helper_thread() -> None:
    seen: list[threading.Thread] = []
    execution = make_execution(
        target=lambda: seen.append(threading.current_thread()), timeout=timedelta(seconds=30)
    )
    outcome = Executors().execute(execution, context_for(execution), threading.Event(), inline=True)
    assert outcome.state is RunState.succeeded
    assert seen
    assert seen[0] is not threading.current_thread()


def test_without_inline_a_task_runs_in_a_helper_thread() -> None:
    seen: list[threading.Thread] = []
    execution = make_execution(target=lambda: seen.append(threading.current_thread()))
    Executors().execute(execution, context_for(execution), threading.Event())
    assert seen
    assert seen[0] is not threading.current_thread()


def test_an_exception_fails_the_run_with_its_traceback() -> None:
    def broken() -> None:
        raise ValueError("bad row 7")

    execution = make_execution(target=broken)
    outcome = ThreadExecutor().run_here(execution, context_for(execution), threading.Event())
    assert outcome.state is RunState.failed
    assert outcome.error is not None
    assert "ValueError: bad row 7" in outcome.error
    assert "Traceback" in outcome.error


def test_system_exit_is_a_failure_not_an_exit() -> None:
    def leaving() -> None:
        raise SystemExit(3)

    execution = make_execution(target=leaving)
    outcome = ThreadExecutor().run_here(execution, context_for(execution), threading.Event())
    assert outcome.state is RunState.failed


def test_a_cancel_set_before_the_start_runs_nothing() -> None:
    calls: list[int] = []
    execution = make_execution(target=lambda: calls.append(1))
    cancel = threading.Event()
    cancel.set()
    context = context_for(execution)
    outcome = ThreadExecutor().run_here(execution, context, cancel)
    assert outcome.state is RunState.cancelled
    assert calls == []
    assert context.cancelled.is_set()


def test_a_coroutine_returned_by_a_sync_callable_fails_and_is_closed() -> None:
    async def later() -> None:
        return None

    coroutine = later()
    execution = make_execution(target=lambda: coroutine)
    outcome = ThreadExecutor().run_here(execution, context_for(execution), threading.Event())
    assert outcome.state is RunState.failed
    assert outcome.error is not None
    assert "async def" in outcome.error
    assert coroutine.cr_frame is None  # closed: no "never awaited" warning


def test_no_target_is_a_failure_not_an_exception() -> None:
    execution = make_execution(target=None)
    outcome = ThreadExecutor().run_here(execution, context_for(execution), threading.Event())
    assert outcome.state is RunState.failed
    assert outcome.error is not None
    assert "nothing to run" in outcome.error
