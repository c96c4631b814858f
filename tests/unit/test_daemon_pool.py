"""The worker's slot threads: daemon threads, at most ``size``, reused; shutdown drops what
has not started and never waits for what runs."""

from __future__ import annotations

import threading

import pytest

from tickwork.daemon_pool import DaemonPool

WAIT = 10.0  # a safety net: every wait below is ended by an event


def test_work_runs_in_daemon_threads_at_most_size_of_them() -> None:
    pool = DaemonPool(3, name="slot")
    release = threading.Event()
    started = threading.Semaphore(0)
    threads: list[threading.Thread] = []
    guard = threading.Lock()

    def hold() -> None:
        with guard:
            threads.append(threading.current_thread())
        started.release()
        release.wait(WAIT)

    for _ in range(3):
        pool.submit(hold)
    for _ in range(3):
        assert started.acquire(timeout=WAIT)
    done = threading.Event()
    pool.submit(done.set)  # a fourth waits for a free thread
    assert not done.wait(0.05)
    release.set()
    assert done.wait(WAIT)
    assert len({t.ident for t in threads}) == 3
    assert all(t.daemon and t.name.startswith("slot_") for t in threads)
    pool.shutdown()


def test_threads_are_reused_not_started_per_task() -> None:
    pool = DaemonPool(4, name="slot")
    names: set[str] = set()
    for _ in range(20):
        done = threading.Event()

        def work(done: threading.Event = done) -> None:
            names.add(threading.current_thread().name)
            done.set()

        pool.submit(work)
        assert done.wait(WAIT)
    assert len(names) <= 2  # one at a time: the first thread (or two, racing its return)
    pool.shutdown()


def test_shutdown_drops_what_has_not_started_and_does_not_wait() -> None:
    pool = DaemonPool(1, name="slot")
    release, started = threading.Event(), threading.Event()
    ran: list[str] = []

    def hold() -> None:
        started.set()
        release.wait(WAIT)
        ran.append("held")

    pool.submit(hold)
    assert started.wait(WAIT)
    pool.submit(lambda: ran.append("queued"))
    pool.shutdown()  # returns at once although a task runs
    with pytest.raises(RuntimeError, match="shut down"):
        pool.submit(lambda: None)
    release.set()
    for thread in threading.enumerate():
        if thread.name == "slot_0":
            thread.join(WAIT)
    assert ran == ["held"]


def test_an_error_in_the_work_does_not_kill_the_thread() -> None:
    pool = DaemonPool(1, name="slot")

    def broken() -> None:
        raise RuntimeError("boom")

    pool.submit(broken)
    done = threading.Event()
    pool.submit(done.set)
    assert done.wait(WAIT)
    pool.shutdown()


def test_a_pool_needs_a_thread() -> None:
    with pytest.raises(ValueError, match="at least one thread"):
        DaemonPool(0, name="slot")
