"""``SharedReads``: requests that ask the same read at the same time share one.

Under load, most of a listing request's cost was not the listing: it was handing the request
to a thread of the pool and back (~0.2 ms of CPU alone, more under contention with the event
loop for the GIL). Fifty clients asking for the same page at once need one database read
between them, not fifty, as long as none is answered from a read that began before it
arrived: a client that changed a schedule and then lists must see its change.

So a request waits for the next read of its key that *begins after it arrived*: when none is
in flight, one begins at once; when one is, the request waits for it to end, then for the
read that begins right after, together with every request that arrived meanwhile. Each
answer is what the database held at a moment inside its request's lifetime, as when each
request read on its own; a read's error is each of its requests' error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from starlette.concurrency import run_in_threadpool

__all__ = ["SharedReads"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SharedReads(Generic[K, V]):
    """``await reads.get(key)``: ``read(key)``, run in the thread pool, shared by the
    requests of one event loop that wait for it (see the module's docstring)."""

    def __init__(self, read: Callable[[K], V]) -> None:
        self._read = read
        # Per (event loop, key): the next read, which the requests arriving now join; and
        # whether one is in flight. Futures belong to a loop: an app served by two loops
        # (two test clients, say) shares nothing between them.
        self._next: dict[tuple[asyncio.AbstractEventLoop, K], asyncio.Future[V]] = {}
        self._running: set[tuple[asyncio.AbstractEventLoop, K]] = set()
        self._tasks: set[asyncio.Task[None]] = set()  # held: the loop keeps weak references

    async def get(self, key: K) -> V:
        loop = asyncio.get_running_loop()
        slot = (loop, key)
        future = self._next.get(slot)
        if future is None:
            future = self._next[slot] = loop.create_future()
            # Its result is read by every waiter, its error too; one that no waiter is left
            # to read (all cancelled) must not be logged as never retrieved.
            future.add_done_callback(_retrieve)
            if slot not in self._running:
                self._begin(slot)
        # A waiter cancelled (its client gone) leaves the read to the others.
        return await asyncio.shield(future)

    def _begin(self, slot: tuple[asyncio.AbstractEventLoop, K]) -> None:
        future = self._next.pop(slot)
        self._running.add(slot)
        task = slot[0].create_task(self._run(slot, future))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(
        self, slot: tuple[asyncio.AbstractEventLoop, K], future: asyncio.Future[V]
    ) -> None:
        try:
            value = await run_in_threadpool(self._read, slot[1])
        except asyncio.CancelledError:  # the loop is closing: no read follows
            future.cancel()
            self._running.discard(slot)
            queued = self._next.pop(slot, None)
            if queued is not None:
                queued.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
        else:
            future.set_result(value)
        self._running.discard(slot)
        if slot in self._next:  # requests arrived during this read: theirs begins now
            self._begin(slot)


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
