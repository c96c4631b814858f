"""A fixed-size pool of daemon threads: the worker's slots.

``concurrent.futures.ThreadPoolExecutor`` joins its threads when the interpreter exits, so a
task that ignores ``context.cancelled`` would keep a stopped process alive. The worker runs a
sync task without a timeout in its own slot thread (no hand-off to a helper thread: on a busy
interpreter each hand-off costs a thread switch), so its threads must be daemon threads: once
the stop grace has passed and the leases are given back, the process may exit under a task
that is still running, as it did when such tasks ran in abandoned helper threads.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

__all__ = ["DaemonPool"]

log = logging.getLogger("tickwork.worker")


class DaemonPool:
    """``submit`` runs a callable in one of at most ``size`` daemon threads, started on
    demand; ``shutdown`` drops what has not started and lets idle threads end."""

    def __init__(self, size: int, *, name: str) -> None:
        if size < 1:
            raise ValueError(f"a pool needs at least one thread, got {size}")
        self._size, self._name = size, name
        self._work: queue.SimpleQueue[Callable[[], object] | None] = queue.SimpleQueue()
        self._guard = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._outstanding = 0  # submitted and not finished
        self._closed = False

    def submit(self, fn: Callable[[], object]) -> None:
        with self._guard:
            if self._closed:
                raise RuntimeError("the pool is shut down")
            self._outstanding += 1
            # Each thread runs one callable at a time: a thread more while there are more
            # callables than threads (up to ``size``; beyond it they wait their turn).
            if self._outstanding > len(self._threads) and len(self._threads) < self._size:
                thread = threading.Thread(
                    target=self._loop, name=f"{self._name}_{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
        self._work.put(fn)

    def shutdown(self) -> None:
        """No new work; queued work that has not started is dropped; running work goes on
        (daemon threads: it does not hold the process up at exit)."""
        with self._guard:
            self._closed = True
            threads = len(self._threads)
        while True:  # drop what has not started
            try:
                self._work.get_nowait()
            except queue.Empty:
                break
        for _ in range(threads):
            self._work.put(None)

    def _loop(self) -> None:
        while (fn := self._work.get()) is not None:
            try:
                fn()
            except BaseException:  # a slot never dies of its work; the worker logs its own
                log.exception("worker slot thread: unexpected error")
            with self._guard:
                self._outstanding -= 1
