from __future__ import annotations

import json
import os
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from tickwork.context import TaskContext
from tickwork.executors import Execution, Executors, SubprocessExecutor, context_for
from tickwork.executors.base import task_environment
from tickwork.executors.isolated import context_from_env, main, resolve
from tickwork.model import Outcome, RunState

from . import sample_tasks
from .support import FIRE, gone_soon, isolated, make_execution, read_pid

FAST = SubprocessExecutor(grace=0.5)


def run(execution: Execution, executor: SubprocessExecutor = FAST) -> tuple[Outcome, TaskContext]:
    context = context_for(execution)
    return executor.execute(execution, context, threading.Event()), context


def test_success_captures_the_output() -> None:
    outcome, _ = run(isolated("succeed"))

    assert outcome.state is RunState.succeeded
    assert outcome.exit_code == 0
    assert outcome.output == "hello from the child\n"


def test_the_child_rebuilds_the_context() -> None:
    outcome, _ = run(isolated("report_context"))

    assert outcome.state is RunState.succeeded
    assert outcome.output is not None
    seen = json.loads(outcome.output)
    assert seen["pid"] != os.getpid()
    assert {k: seen[k] for k in ("run_id", "schedule", "attempt")} == {
        "run_id": 7,
        "schedule": "nightly",
        "attempt": 2,
    }
    assert seen["nominal_fire"] == "2024-03-05T02:00:00+00:00"
    assert seen["idempotency_key"] == "nightly@2024-03-05T02:00:00+00:00"
    assert seen["result_fd_visible"] is False


def test_an_exception_fails_with_the_childs_traceback() -> None:
    outcome, _ = run(isolated("fail"))

    assert outcome.state is RunState.failed
    assert outcome.exit_code == 1
    assert outcome.error is not None
    assert outcome.error.startswith("Traceback (most recent call last):")
    assert "sample_tasks.py" in outcome.error
    assert "in fail" in outcome.error
    assert outcome.error.endswith("ValueError: boom in the child")
    assert "executors/isolated.py" not in outcome.error
    assert outcome.output is not None
    assert "ValueError: boom in the child" in outcome.output  # printed too


def test_sys_exit_sets_the_exit_status() -> None:
    outcome, _ = run(isolated("exit_three"))

    assert outcome.state is RunState.failed
    assert outcome.exit_code == 3
    assert outcome.error == "exit code 3"


def test_an_async_task_runs_with_asyncio_run() -> None:
    outcome, _ = run(isolated("async_report"))

    assert outcome.state is RunState.succeeded
    assert outcome.output == "async nightly attempt 2\n"


def test_hard_timeout_stops_a_sync_task_and_runs_its_finally(tmp_path: Path) -> None:
    pid_file = tmp_path / "task.pid"
    execution = isolated(
        "sleep_with_cleanup", env={"PID_FILE": str(pid_file)}, timeout=timedelta(seconds=1)
    )

    outcome, context = run(execution)

    assert outcome.state is RunState.timed_out
    assert outcome.error == "timed out after 1s; process group stopped with SIGTERM"
    assert outcome.exit_code == 143
    assert context.cancelled.is_set()
    assert outcome.output is not None
    assert "cleaned up" in outcome.output
    assert gone_soon(read_pid(pid_file))


def test_hard_timeout_kills_a_task_that_ignores_sigterm(tmp_path: Path) -> None:
    pid_file = tmp_path / "task.pid"
    execution = isolated(
        "ignore_sigterm", env={"PID_FILE": str(pid_file)}, timeout=timedelta(seconds=1)
    )

    outcome, _ = run(execution, SubprocessExecutor(grace=0.2))

    assert outcome.state is RunState.timed_out
    assert outcome.exit_code == -9
    assert outcome.error is not None
    assert "SIGKILL" in outcome.error
    assert gone_soon(read_pid(pid_file))


def test_hard_timeout_cancels_an_async_task(tmp_path: Path) -> None:
    pid_file = tmp_path / "task.pid"
    execution = isolated(
        "async_sleep_with_cleanup", env={"PID_FILE": str(pid_file)}, timeout=timedelta(seconds=1)
    )

    outcome, _ = run(execution)

    assert outcome.state is RunState.timed_out
    assert outcome.exit_code == 143
    assert outcome.output is not None
    assert "coroutine cancelled" in outcome.output
    assert gone_soon(read_pid(pid_file))


def test_cancel_sets_the_childs_cancel_flag(tmp_path: Path) -> None:
    pid_file = tmp_path / "task.pid"
    execution = isolated("cooperative", env={"PID_FILE": str(pid_file)})
    context, cancel = context_for(execution), threading.Event()

    # Cancel once the task runs (its pid file is written after the SIGTERM handler is set).
    def cancel_once_running() -> None:
        read_pid(pid_file)
        cancel.set()

    canceller = threading.Thread(target=cancel_once_running)
    canceller.start()

    outcome = FAST.execute(execution, context, cancel)
    canceller.join()

    assert outcome.state is RunState.cancelled
    assert outcome.output is not None
    assert "waiting\n" in outcome.output
    assert "cancelled flag: True" in outcome.output
    assert gone_soon(read_pid(pid_file))


def test_the_task_ref_is_derived_from_a_module_level_target() -> None:
    execution = isolated("unused", task_ref=None, target=sample_tasks.succeed)

    outcome, _ = run(execution)

    assert outcome.state is RunState.succeeded
    assert outcome.output == "hello from the child\n"


def test_a_target_the_child_cannot_import_is_refused_before_starting() -> None:
    execution = make_execution(target=lambda: None, isolated=True)

    outcome, _ = run(execution)

    assert outcome.state is RunState.failed
    assert outcome.error is not None
    assert outcome.error.startswith("isolated=True needs task_ref")


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("no_such_module_xyz:task", "ModuleNotFoundError: No module named 'no_such_module_xyz'"),
        ("sample_tasks:absent", "AttributeError"),
        ("sample_tasks", "ValueError: bad task reference 'sample_tasks'; expected"),
        ("sample_tasks:NOT_CALLABLE", "TypeError: task reference 'sample_tasks:NOT_CALLABLE'"),
    ],
    ids=["missing-module", "missing-function", "no-colon", "not-callable"],
)
def test_a_bad_task_ref_fails_with_a_clear_message(ref: str, message: str) -> None:
    outcome, _ = run(isolated("unused", task_ref=ref))

    assert outcome.state is RunState.failed
    assert outcome.exit_code == 1
    assert outcome.error is not None
    assert message in outcome.error


def test_executors_route_isolated_callables_to_a_child_process() -> None:
    executors = Executors(subprocess=FAST)
    execution = isolated("report_context")
    try:
        assert executors.select(execution) is FAST
        outcome = executors.execute(execution, context_for(execution), threading.Event())
    finally:
        executors.close()

    assert outcome.output is not None
    assert json.loads(outcome.output)["pid"] != os.getpid()


def test_resolve_follows_dotted_attributes() -> None:
    assert resolve("os.path:join") is os.path.join
    assert resolve("os:path.join") is os.path.join
    with pytest.raises(TypeError, match="not callable"):
        resolve("os:sep")


def test_context_from_env_reads_what_the_executor_sets() -> None:
    execution = make_execution()

    context = context_from_env(task_environment(execution))

    assert (context.run_id, context.schedule, context.attempt) == (7, "nightly", 2)
    assert context.nominal_fire == FIRE
    assert context.idempotency_key == execution.idempotency_key


def test_main_without_a_task_ref_prints_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage:" in capsys.readouterr().err


def test_the_entry_point_runs_as_a_module(tmp_path: Path) -> None:
    command = f"{sys.executable} -m tickwork.executors.isolated"

    outcome, _ = run(make_execution(command=command))

    assert outcome.state is RunState.failed
    assert outcome.exit_code == 2
    assert outcome.output is not None
    assert outcome.output.startswith("usage:")
