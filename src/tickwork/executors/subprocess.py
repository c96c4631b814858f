"""Run shell commands, and callables with ``isolated=True``, as child processes.

Each run gets its own session and process group, so a timeout or a cancel stops the whole
tree it started: SIGTERM to the group, SIGKILL ``grace`` seconds later to whatever is left.
The timeout is hard. Processes a command leaves behind in its group after it exits
(``cmd &``) are stopped the same way, so a run never outlives its record (promise 4:
overlap is controlled); a daemon that wants to outlive its run starts its own session.

stdout and stderr are merged; only the last ``output_limit`` bytes (64 KiB) are kept, by a
reader thread with a bounded buffer, and decoded as UTF-8 with replacement characters.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from tickwork.context import TaskContext
from tickwork.executors.base import (
    ENV_RESULT_FD,
    POLL_SECONDS,
    Execution,
    GuardedExecutor,
    Stopwatch,
    format_seconds,
    task_environment,
    wait_until_done,
)
from tickwork.model import Outcome, RunState

__all__ = ["ISOLATED_MODULE", "OUTPUT_LIMIT", "SubprocessExecutor", "task_ref_of"]

OUTPUT_LIMIT = 64 * 1024  # bytes of merged stdout/stderr kept: the last ones
ISOLATED_MODULE = "tickwork.executors.isolated"
_CHUNK = 64 * 1024
# How long output may keep flowing once the process group is gone (a process that left
# the group can hold the pipe open forever; we stop reading then).
_DRAIN_SECONDS = 0.5


def task_ref_of(target: Callable[..., Any] | None) -> str | None:
    """``module:qualname`` of a module-level callable, which a child process can import;
    None for lambdas, nested functions and ``__main__``."""
    module = getattr(target, "__module__", None)
    qualname = getattr(target, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str):
        return None
    if module == "__main__" or "<" in qualname:
        return None
    return f"{module}:{qualname}"


def describe_exit(returncode: int) -> str:
    """``exit code N`` or ``killed by signal SIGKILL`` (Popen reports a signal as -N)."""
    if returncode >= 0:
        return f"exit code {returncode}"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = str(-returncode)
    return f"killed by signal {name}"


class _Tail:
    """The last ``limit`` bytes fed to it: memory stays bounded whatever the output."""

    __slots__ = ("_buffer", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._buffer = bytearray()

    def feed(self, data: bytes) -> None:
        self._buffer += data
        excess = len(self._buffer) - self.limit
        if excess > 0:
            del self._buffer[:excess]

    def text(self) -> str:
        return self._buffer.decode("utf-8", errors="replace")


class _Pump:
    """One thread doing all of a run's pipe I/O: reads the output pipes into tails and
    writes ``stdin`` without blocking, so a child that never reads its input cannot block
    the worker. Stops at end of file on every output pipe, or when ``finish`` gives up waiting."""

    def __init__(
        self,
        outputs: dict[int, _Tail],
        stdin_fd: int | None,
        stdin: bytes,
        close_stdin: Callable[[], None],
    ) -> None:
        self._outputs = outputs
        self._stdin_fd = stdin_fd
        self._pending = memoryview(stdin)
        self._close_stdin = close_stdin
        self._wake_read, self._wake_write = os.pipe()
        self._thread = threading.Thread(target=self._run, name="tickwork-output", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def finish(self, drain: float) -> None:
        """Wait up to ``drain`` seconds for end of file, then stop reading; join."""
        self._thread.join(drain)
        if self._thread.is_alive():
            os.write(self._wake_write, b"x")
            self._thread.join()
        os.close(self._wake_read)
        os.close(self._wake_write)

    def _run(self) -> None:
        with selectors.DefaultSelector() as selector:
            for fd in self._outputs:
                selector.register(fd, selectors.EVENT_READ)
            selector.register(self._wake_read, selectors.EVENT_READ)
            if self._stdin_fd is not None:
                if self._pending:
                    os.set_blocking(self._stdin_fd, False)
                    selector.register(self._stdin_fd, selectors.EVENT_WRITE)
                else:
                    self._end_stdin(None)
            open_outputs = set(self._outputs)
            while open_outputs:
                for key, _ in selector.select():
                    if key.fd == self._wake_read:
                        self._drain(selector, open_outputs)
                        open_outputs.clear()
                        break
                    if key.fd == self._stdin_fd:
                        self._write(selector)
                    elif not self._read(key.fd):
                        selector.unregister(key.fd)
                        open_outputs.discard(key.fd)
            if self._stdin_fd is not None:
                self._end_stdin(selector)

    def _read(self, fd: int) -> bool:
        try:
            data = os.read(fd, _CHUNK)
        except OSError:
            return False
        self._outputs[fd].feed(data)
        return bool(data)

    def _drain(self, selector: selectors.BaseSelector, open_outputs: set[int]) -> None:
        """Read what is already in the pipes, without waiting for more."""
        for fd in open_outputs:
            selector.unregister(fd)
            os.set_blocking(fd, False)
            while self._read(fd):  # False at end of file, or nothing more yet
                pass

    def _write(self, selector: selectors.BaseSelector) -> None:
        assert self._stdin_fd is not None
        try:
            written = os.write(self._stdin_fd, self._pending[:_CHUNK])
        except BlockingIOError:
            return
        except OSError:  # the child closed its input or is gone: the rest is dropped
            written = len(self._pending)
        self._pending = self._pending[written:]
        if not self._pending:
            self._end_stdin(selector)

    def _end_stdin(self, selector: selectors.BaseSelector | None) -> None:
        if self._stdin_fd is None:
            return
        if selector is not None and self._stdin_fd in selector.get_map():
            selector.unregister(self._stdin_fd)
        self._stdin_fd = None
        self._pending = memoryview(b"")
        with contextlib.suppress(OSError):
            self._close_stdin()


def _group_alive(pgid: int) -> bool:
    """Whether the process group has a member that is not a zombie. Orphans whose zombie
    init never reaps still count for ``killpg(pgid, 0)``; /proc tells them apart."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_bytes()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            return True
    return False


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


class SubprocessExecutor(GuardedExecutor):
    """Runs ``execution.command`` as ``[shell, "-c", command]``, or an isolated callable
    as ``python -m tickwork.executors.isolated <task_ref>``, with a hard timeout.

    ``grace`` is the time between SIGTERM and SIGKILL; ``output_limit`` the bytes of
    output kept. The child's environment is ``os.environ``, then ``execution.env``, then
    the ``TICKWORK_*`` variables of the run; its stdin is ``execution.stdin`` or /dev/null.
    """

    kind = "subprocess"

    def __init__(
        self,
        *,
        grace: timedelta | float = 5.0,
        output_limit: int = OUTPUT_LIMIT,
        python: str = sys.executable,
    ) -> None:
        self.grace = grace.total_seconds() if isinstance(grace, timedelta) else float(grace)
        self.output_limit = output_limit
        self.python = python

    def argv(self, execution: Execution) -> list[str]:
        """The command line of ``execution``; ValueError when there is nothing (or more
        than one thing) to run."""
        if execution.command is not None and (execution.target or execution.task_ref):
            raise ValueError("both a command and a callable to run; expected exactly one")
        if execution.command is not None:
            return [execution.shell, "-c", execution.command]
        if execution.isolated:
            ref = execution.task_ref or task_ref_of(execution.target)
            if ref is None:
                raise ValueError(
                    "isolated=True needs task_ref ('module:function'), or a module-level "
                    f"target a child process can import; got {execution.target!r}"
                )
            return [self.python, "-u", "-m", ISOLATED_MODULE, ref]
        raise ValueError("nothing to run: expected a command, or isolated=True with a task_ref")

    def _execute(
        self,
        execution: Execution,
        context: TaskContext,
        cancel: threading.Event,
        watch: Stopwatch,
    ) -> Outcome:
        try:
            argv = self.argv(execution)
        except ValueError as exc:
            return watch.outcome(RunState.failed, error=str(exc))
        if execution.cwd is not None and not os.path.isdir(execution.cwd):
            return watch.outcome(
                RunState.failed,
                error=f"cwd {execution.cwd!r} is not an existing directory; expected the "
                "directory to run the command in",
            )
        env = {**os.environ, **execution.env, **task_environment(execution)}
        result_read, result_write = os.pipe() if execution.command is None else (-1, -1)
        if result_write >= 0:
            env[ENV_RESULT_FD] = str(result_write)
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL if execution.stdin is None else subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                cwd=execution.cwd,
                env=env,
                start_new_session=True,
                pass_fds=(result_write,) if result_write >= 0 else (),
            )
        except OSError as exc:
            if result_write >= 0:
                os.close(result_read)
                os.close(result_write)
            return watch.outcome(RunState.failed, error=f"cannot start {argv[0]!r}: {exc}")
        if result_write >= 0:
            os.close(result_write)
        try:
            return self._supervise(proc, execution, context, cancel, watch, result_read)
        finally:
            if result_read >= 0:
                os.close(result_read)

    def _supervise(
        self,
        proc: subprocess.Popen[bytes],
        execution: Execution,
        context: TaskContext,
        cancel: threading.Event,
        watch: Stopwatch,
        result_read: int,
    ) -> Outcome:
        assert proc.stdout is not None
        output, result = _Tail(self.output_limit), _Tail(self.output_limit)
        outputs = {proc.stdout.fileno(): output}
        if result_read >= 0:
            outputs[result_read] = result
        stdin = proc.stdin
        pump = _Pump(
            outputs,
            None if stdin is None else stdin.fileno(),
            (execution.stdin or "").encode(),
            (lambda: None) if stdin is None else stdin.close,
        )
        try:
            pump.start()
            timeout = execution.timeout
            deadline = None if timeout is None else time.monotonic() + timeout.total_seconds()
            how = wait_until_done(lambda wait: _exited(proc, wait), cancel, deadline)
            if how != "done":
                context.cancelled.set()
            stopped = self._stop_group(proc, force=how != "done")
        except BaseException:  # our own bug: leave no process behind, then report it
            _signal_group(proc.pid, signal.SIGKILL)
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            raise
        finally:
            pump.finish(_DRAIN_SECONDS)
            proc.stdout.close()
        returncode = proc.returncode
        text = output.text()
        if how == "done":
            if stopped:
                context.logger.warning("command exited leaving processes behind; %s", stopped)
            if returncode == 0:
                return watch.outcome(RunState.succeeded, exit_code=0, output=text)
            error = result.text().strip() or describe_exit(returncode)
            return watch.outcome(RunState.failed, exit_code=returncode, error=error, output=text)
        if how == "timed_out":
            assert timeout is not None
            error = f"timed out after {format_seconds(timeout)}; {stopped}"
            return watch.outcome(RunState.timed_out, exit_code=returncode, error=error, output=text)
        return watch.outcome(
            RunState.cancelled, exit_code=returncode, error=f"cancelled; {stopped}", output=text
        )

    def _stop_group(self, proc: subprocess.Popen[bytes], *, force: bool) -> str | None:
        """Stop what is left of the run's process group: SIGTERM, then SIGKILL after
        ``grace``. Returns how it went, or None when nothing was left (and not ``force``)."""
        pgid = proc.pid  # start_new_session: the child leads its own group
        if not force and not _group_alive(pgid):
            return None
        _signal_group(pgid, signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        _exited(proc, self.grace)
        while _group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
        if not _group_alive(pgid) and proc.poll() is not None:
            return "process group stopped with SIGTERM"
        _signal_group(pgid, signal.SIGKILL)
        if proc.poll() is None:  # it left its group: kill it by pid
            proc.kill()
        proc.wait()
        return f"process group killed with SIGKILL {format_seconds(self.grace)} after SIGTERM"


def _exited(proc: subprocess.Popen[bytes], wait: float) -> bool:
    try:
        proc.wait(timeout=wait)
    except subprocess.TimeoutExpired:
        return False
    return True
