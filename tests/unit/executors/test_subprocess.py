from __future__ import annotations

import gc
import os
import shlex
import sys
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tickwork.context import TaskContext
from tickwork.executors import OUTPUT_LIMIT, Executors, SubprocessExecutor, context_for
from tickwork.model import Outcome, RunState

from .support import gone_soon, make_execution, read_pid

Canceller = Callable[[threading.Event, float], None]
FAST = SubprocessExecutor(grace=0.3)


def run(
    command: str, executor: SubprocessExecutor = FAST, **fields: Any
) -> tuple[Outcome, TaskContext]:
    execution = make_execution(command=command, **fields)
    context = context_for(execution)
    return executor.execute(execution, context, threading.Event()), context


def test_exit_code_zero_succeeds_with_merged_output() -> None:
    outcome, _ = run("echo out; echo err >&2")

    assert outcome.state is RunState.succeeded
    assert outcome.exit_code == 0
    assert outcome.error is None
    assert outcome.output == "out\nerr\n"
    assert outcome.duration is not None


@pytest.mark.parametrize(
    ("command", "exit_code", "error"),
    [
        ("exit 3", 3, "exit code 3"),
        ("false", 1, "exit code 1"),
        ("kill -KILL $$", -9, "killed by signal SIGKILL"),
        ("kill -TERM $$", -15, "killed by signal SIGTERM"),
    ],
    ids=["exit-3", "false", "sigkill", "sigterm"],
)
def test_a_nonzero_exit_fails(command: str, exit_code: int, error: str) -> None:
    outcome, _ = run(command)

    assert outcome.state is RunState.failed
    assert outcome.exit_code == exit_code
    assert outcome.error == error


def test_output_keeps_exactly_the_last_64_kib() -> None:
    total = 200 * 1024
    script = (
        "import sys\n"
        f"data = b''.join(b'%07d\\n' % i for i in range({total} // 8))\n"
        "sys.stdout.buffer.write(data)\n"
    )
    expected = b"".join(b"%07d\n" % i for i in range(total // 8))[-OUTPUT_LIMIT:].decode()

    outcome, _ = run(f"{shlex.quote(sys.executable)} -c {shlex.quote(script)}")

    assert outcome.state is RunState.succeeded
    assert outcome.output is not None
    assert len(outcome.output) == OUTPUT_LIMIT
    assert outcome.output == expected


def test_undecodable_output_is_replaced_not_fatal() -> None:
    outcome, _ = run(r"printf 'caf\351\n'")

    assert outcome.state is RunState.succeeded
    assert outcome.output == "caf\ufffd\n"


def test_stdin_is_fed_verbatim_percent_signs_included() -> None:
    text = "100% done, %s and %d stay as written\nsecond line %%\n"

    outcome, _ = run("cat", stdin=text)

    assert outcome.output == text


def test_stdin_larger_than_a_pipe_buffer() -> None:
    outcome, _ = run("wc -c", stdin="x" * (1024 * 1024))

    assert outcome.output is not None
    assert outcome.output.strip() == str(1024 * 1024)


def test_a_command_that_never_reads_its_stdin_does_not_block() -> None:
    outcome, _ = run("exit 0", stdin="y" * (1024 * 1024), timeout=timedelta(seconds=5))

    assert outcome.state is RunState.succeeded


def test_without_stdin_the_command_reads_end_of_file() -> None:
    outcome, _ = run("cat; echo done", timeout=timedelta(seconds=5))

    assert outcome.state is RunState.succeeded
    assert outcome.output == "done\n"


def test_the_run_is_described_in_tickwork_variables() -> None:
    command = (
        'printf "%s|%s|%s|%s|%s|%s" "$TICKWORK_RUN_ID" "$TICKWORK_SCHEDULE" '
        '"$TICKWORK_ATTEMPT" "$TICKWORK_NOMINAL_FIRE" "$TICKWORK_IDEMPOTENCY_KEY" "$GREETING"'
    )

    outcome, _ = run(command, env={"GREETING": "hi", "TICKWORK_RUN_ID": "overridden?"})

    assert outcome.output == (
        "7|nightly|2|2024-03-05T02:00:00+00:00|nightly@2024-03-05T02:00:00+00:00|hi"
    )


def test_the_process_environment_is_inherited(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKWORK_TEST_INHERITED", "from the worker")

    outcome, _ = run('printf %s "$TICKWORK_TEST_INHERITED"')

    assert outcome.output == "from the worker"


def test_cwd_and_shell(tmp_path: Path) -> None:
    outcome, _ = run("pwd", cwd=str(tmp_path), shell="/bin/bash")

    assert outcome.output == f"{tmp_path}\n"


def test_hard_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    command = f"echo $$ > {tmp_path}/main.pid; sleep 30 & echo $! > {tmp_path}/bg.pid; sleep 30"

    outcome, context = run(command, timeout=timedelta(seconds=0.3))

    assert outcome.state is RunState.timed_out
    assert outcome.error == "timed out after 0.3s; process group stopped with SIGTERM"
    assert outcome.exit_code == -15
    assert context.cancelled.is_set()
    assert outcome.duration is not None
    assert timedelta(seconds=0.3) <= outcome.duration < timedelta(seconds=1.5)
    assert gone_soon(read_pid(tmp_path / "main.pid"))
    assert gone_soon(read_pid(tmp_path / "bg.pid"))  # the grandchild too


def test_sigkill_follows_when_sigterm_is_ignored(tmp_path: Path) -> None:
    command = f"trap '' TERM; sleep 30 & echo $! > {tmp_path}/bg.pid; sleep 30"
    executor = SubprocessExecutor(grace=0.2)

    outcome, _ = run(command, executor, timeout=timedelta(seconds=0.3))

    assert outcome.state is RunState.timed_out
    assert outcome.error == (
        "timed out after 0.3s; process group killed with SIGKILL 0.2s after SIGTERM"
    )
    assert outcome.exit_code == -9
    assert outcome.duration is not None
    assert outcome.duration < timedelta(seconds=1.5)
    assert gone_soon(read_pid(tmp_path / "bg.pid"))


def test_cancel_stops_the_process_group(tmp_path: Path, cancel_after: Canceller) -> None:
    execution = make_execution(command=f"sleep 30 & echo $! > {tmp_path}/bg.pid; sleep 30")
    context, cancel = context_for(execution), threading.Event()
    cancel_after(cancel, 0.3)

    outcome = FAST.execute(execution, context, cancel)

    assert outcome.state is RunState.cancelled
    assert outcome.error == "cancelled; process group stopped with SIGTERM"
    assert context.cancelled.is_set()
    assert outcome.duration is not None
    assert outcome.duration < timedelta(seconds=1.5)
    assert gone_soon(read_pid(tmp_path / "bg.pid"))


def test_a_cancel_set_before_the_start_spawns_nothing(tmp_path: Path) -> None:
    execution = make_execution(command=f"touch {tmp_path}/ran")
    cancel = threading.Event()
    cancel.set()

    outcome = FAST.execute(execution, context_for(execution), cancel)

    assert outcome.state is RunState.cancelled
    assert not (tmp_path / "ran").exists()


def test_processes_left_behind_are_stopped_when_the_command_exits(tmp_path: Path) -> None:
    outcome, _ = run(f"sleep 30 & echo $! > {tmp_path}/bg.pid; echo started")

    assert outcome.state is RunState.succeeded
    assert outcome.output == "started\n"
    assert outcome.duration is not None
    assert outcome.duration < timedelta(seconds=1.5)
    assert gone_soon(read_pid(tmp_path / "bg.pid"))


def test_a_missing_shell_fails_with_a_message() -> None:
    outcome, _ = run("true", shell="/nonexistent/sh")

    assert outcome.state is RunState.failed
    assert outcome.error is not None
    assert outcome.error.startswith("cannot start '/nonexistent/sh'")


def test_a_missing_cwd_fails_with_a_message(tmp_path: Path) -> None:
    outcome, _ = run("true", cwd=str(tmp_path / "absent"))

    assert outcome.state is RunState.failed
    assert outcome.error is not None
    assert "absent" in outcome.error


def test_nothing_to_run_is_a_failure_not_an_exception() -> None:
    execution = make_execution()

    outcome = FAST.execute(execution, context_for(execution), threading.Event())

    assert outcome.state is RunState.failed
    assert outcome.error is not None
    assert outcome.error.startswith("nothing to run")


def test_a_command_and_a_callable_at_once_are_refused() -> None:
    outcome, _ = run("true", target=print)

    assert outcome.state is RunState.failed
    assert outcome.error == "both a command and a callable to run; expected exactly one"


def test_executors_route_commands_here_and_report_nothing_to_run() -> None:
    executors = Executors(subprocess=FAST)
    try:
        command = executors.execute(
            make_execution(command="echo routed"),
            context_for(make_execution()),
            threading.Event(),
        )
        nothing = executors.execute(
            make_execution(), context_for(make_execution()), threading.Event()
        )
    finally:
        executors.close()

    assert executors.select(make_execution(command="true")) is FAST
    assert command.output == "routed\n"
    assert nothing.state is RunState.failed


def test_no_descriptor_leaks_across_runs() -> None:
    # Other tests' threads may open or close a descriptor meanwhile (a pool, a listener), so
    # compare against the runs' count: a leak per run shows as 20 or more after 20 runs.
    run("echo warm-up", stdin="x")
    gc.collect()
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(20):
        run("echo hi", stdin="x")
    gc.collect()
    assert len(os.listdir("/proc/self/fd")) - before < 10


def test_missing_cwd_is_named_in_the_error() -> None:
    from datetime import UTC, datetime

    from tickwork.executors import Execution, SubprocessExecutor, context_for

    execution = Execution(
        run_id=1,
        schedule="s",
        attempt=1,
        nominal_fire=datetime(2026, 1, 1, tzinfo=UTC),
        idempotency_key="s@2026-01-01T00:00:00+00:00",
        command="true",
        cwd="/does/not/exist",
    )
    outcome = SubprocessExecutor().execute(execution, context_for(execution), threading.Event())
    assert outcome.state is RunState.failed
    assert outcome.error is not None
    assert "cwd '/does/not/exist' is not an existing directory" in outcome.error
