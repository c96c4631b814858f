"""``SharedReads``: requests for one key at the same time share a read, and none is answered
from a read that began before it arrived (a client that changed something and then lists
sees its change). Reads are gated by events, so every interleaving here is forced, never
waited for."""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict

import pytest

from tickwork.web.api.shared_reads import SharedReads

GATE = 10.0  # seconds: a safety net for a broken test, never reached when it passes


class Gated:
    """``read(key)`` as the n-th read: says it began, waits to be let through, returns
    "key#n" (or raises for a key starting with "bad")."""

    def __init__(self) -> None:
        self.count = 0
        self.keys: list[str] = []
        self.began: defaultdict[int, threading.Event] = defaultdict(threading.Event)
        self.release: defaultdict[int, threading.Event] = defaultdict(threading.Event)

    def __call__(self, key: str) -> str:
        self.count += 1
        n = self.count
        self.keys.append(key)
        self.began[n].set()
        assert self.release[n].wait(GATE)
        if key.startswith("bad"):
            raise LookupError(f"{key}#{n}")
        return f"{key}#{n}"

    async def began_read(self, n: int) -> None:
        assert await asyncio.to_thread(self.began[n].wait, GATE)


async def waiting(*tasks: asyncio.Task[str]) -> None:
    """Let the tasks run up to their first wait (one turn of the loop each)."""
    await asyncio.sleep(0)
    assert not any(task.done() for task in tasks)


def test_requests_during_a_read_share_the_next_one() -> None:
    async def scenario() -> None:
        read = Gated()
        reads = SharedReads(read)
        first = asyncio.create_task(reads.get("page"))
        await read.began_read(1)
        later = [asyncio.create_task(reads.get("page")) for _ in range(3)]
        await waiting(*later)
        read.release[1].set()
        assert await first == "page#1"  # the read begun before the others arrived
        await read.began_read(2)
        await waiting(*later)
        read.release[2].set()
        assert await asyncio.gather(*later) == ["page#2"] * 3  # one read, after they came
        assert read.count == 2

    asyncio.run(scenario())


def test_different_keys_never_share() -> None:
    async def scenario() -> None:
        read = Gated()
        reads = SharedReads(read)
        a = asyncio.create_task(reads.get("a"))
        await read.began_read(1)
        b = asyncio.create_task(reads.get("b"))
        await read.began_read(2)
        read.release[1].set()
        read.release[2].set()
        assert (await a, await b) == ("a#1", "b#2")

    asyncio.run(scenario())


def test_a_failed_read_fails_each_of_its_requests_and_the_next_reads_again() -> None:
    async def scenario() -> None:
        read = Gated()
        reads = SharedReads(read)
        first = asyncio.create_task(reads.get("bad"))
        await read.began_read(1)
        later = [asyncio.create_task(reads.get("bad")) for _ in range(2)]
        await waiting(*later)
        read.release[1].set()
        with pytest.raises(LookupError, match="bad#1"):
            await first
        read.release[2].set()
        for task in later:
            with pytest.raises(LookupError, match="bad#2"):
                await task
        read.release[3].set()
        with pytest.raises(LookupError, match="bad#3"):
            await reads.get("bad")

    asyncio.run(scenario())


def test_a_request_that_gives_up_leaves_the_read_to_the_others() -> None:
    async def scenario() -> None:
        read = Gated()
        reads = SharedReads(read)
        first = asyncio.create_task(reads.get("page"))
        await read.began_read(1)
        gone, staying = (asyncio.create_task(reads.get("page")) for _ in range(2))
        await waiting(gone, staying)
        gone.cancel()
        read.release[1].set()
        read.release[2].set()
        assert await first == "page#1"
        assert await staying == "page#2"
        with pytest.raises(asyncio.CancelledError):
            await gone

    asyncio.run(scenario())


def test_requests_one_after_another_each_read() -> None:
    async def scenario() -> None:
        read = Gated()
        for n in (1, 2, 3):
            read.release[n].set()
        reads = SharedReads(read)
        assert [await reads.get("page") for _ in range(3)] == ["page#1", "page#2", "page#3"]

    asyncio.run(scenario())
