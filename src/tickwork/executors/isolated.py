"""Entry point of an isolated run: ``python -m tickwork.executors.isolated module:function``.

``SubprocessExecutor`` starts it for ``isolated=True``. It rebuilds the ``TaskContext`` from
the ``TICKWORK_*`` environment variables, imports the task, calls it (``async def`` ones
with ``asyncio.run``) and exits 0; on an exception it prints the traceback to stderr, writes
it to the ``TICKWORK_RESULT_FD`` pipe when there is one (it becomes ``Outcome.error``) and
exits 1. SIGTERM sets ``context.cancelled`` and stops the task (an exception at its current
line, or a cancellation at its current ``await``), exit status 143. ``sys.exit(n)`` in the
task ends the process with status ``n``, as in any script.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
import os
import signal
import sys
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from datetime import datetime
from types import FrameType
from typing import Any

from tickwork.context import TaskContext, call_task
from tickwork.executors.base import (
    ENV_ATTEMPT,
    ENV_IDEMPOTENCY_KEY,
    ENV_NOMINAL_FIRE,
    ENV_RESULT_FD,
    ENV_RUN_ID,
    ENV_SCHEDULE,
    failure,
)

__all__ = ["Terminated", "context_from_env", "main", "resolve"]

_USAGE = "usage: python -m tickwork.executors.isolated module:function"
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_TERMINATED = 128 + signal.SIGTERM


class Terminated(BaseException):
    """Raised in a sync task by SIGTERM (timeout or cancel): not an ``Exception``, so the
    task's ``except Exception`` does not swallow it; its ``finally`` blocks still run."""


def resolve(ref: str) -> Callable[..., Any]:
    """Import ``module:attribute[.attribute...]`` and return the callable it names."""
    module_name, _, path = ref.partition(":")
    if not module_name or not path:
        raise ValueError(f"bad task reference {ref!r}; expected 'module:function'")
    target: Any = importlib.import_module(module_name)
    for part in path.split("."):
        target = getattr(target, part)
    if not callable(target):
        raise TypeError(f"task reference {ref!r} names {target!r}, which is not callable")
    return target  # type: ignore[no-any-return]


def context_from_env(environ: Mapping[str, str]) -> TaskContext:
    """The run's context, from the variables ``SubprocessExecutor`` sets."""
    return TaskContext.create(
        int(environ[ENV_RUN_ID]),
        environ[ENV_SCHEDULE],
        int(environ[ENV_ATTEMPT]),
        datetime.fromisoformat(environ[ENV_NOMINAL_FIRE]),
        environ[ENV_IDEMPOTENCY_KEY],
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print(_USAGE, file=sys.stderr)
        return EXIT_USAGE
    result_fd = _result_fd(os.environ)  # taken out of the environment the task sees
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        context = context_from_env(os.environ)
        _run(resolve(args[0]), context)
    except (Terminated, asyncio.CancelledError):
        print("tickwork: task stopped by SIGTERM", file=sys.stderr)
        return EXIT_TERMINATED
    except SystemExit:
        raise
    except BaseException as exc:
        text = failure(exc) + "\n"
        sys.stderr.write(text)
        _report(result_fd, text)
        return EXIT_FAILED
    finally:
        sys.stdout.flush()
    return 0


def _run(target: Callable[..., Any], context: TaskContext) -> None:
    if inspect.iscoroutinefunction(target):
        asyncio.run(_run_async(lambda: call_task(target, context), context))
        return

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        context.cancelled.set()
        raise Terminated

    signal.signal(signal.SIGTERM, on_sigterm)
    result = call_task(target, context)
    if inspect.isawaitable(result):  # a sync callable that returned a coroutine
        awaitable = result
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        asyncio.run(_run_async(lambda: awaitable, context))


async def _run_async(start: Callable[[], Any], context: TaskContext) -> None:
    task = asyncio.current_task()
    assert task is not None

    def on_sigterm() -> None:
        context.cancelled.set()
        task.cancel()

    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, on_sigterm)
    await start()


def _result_fd(environ: MutableMapping[str, str]) -> int | None:
    """The result pipe, kept from the task's own children (they must not hold it)."""
    value = environ.pop(ENV_RESULT_FD, None)
    if value is None:
        return None
    try:
        fd = int(value)
        os.set_inheritable(fd, False)
    except (ValueError, OSError):
        return None
    return fd


def _report(fd: int | None, text: str) -> None:
    if fd is None:
        return
    data = memoryview(text.encode("utf-8", errors="replace"))
    try:
        while data:
            data = data[os.write(fd, data) :]
    except OSError:
        pass


if __name__ == "__main__":
    sys.exit(main())
