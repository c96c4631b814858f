"""Tickwork on PostgreSQL: the database's clock by default, and LISTEN/NOTIFY waking the
engine when another process enqueues runs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tickwork.app import Tickwork
from tickwork.clock import DatabaseClock
from tickwork.config import Settings
from tickwork.model import RunState
from tickwork.store import open_store
from tickwork.store.base import RunFilter
from tickwork.store.postgres import PostgresStore
from tickwork.testing import FakeClock

from .conftest import T0, runs_of

WAIT = 20  # seconds; a safety net only


@pytest.fixture
def made(postgres_url: str) -> Iterator[list[Tickwork]]:
    apps: list[Tickwork] = []
    yield apps
    for tw in apps:
        tw.close()


def test_on_postgresql_the_clock_is_the_databases(postgres_url: str, made: list[Tickwork]) -> None:
    tw = Tickwork(database_url=postgres_url)
    made.append(tw)
    tw.store  # noqa: B018 - opening the store picks the clock
    assert isinstance(tw.clock, DatabaseClock)
    tw.clock.now()  # the first reading
    offset = tw.clock.offset
    assert offset is not None
    assert abs(offset) < timedelta(seconds=1)  # same host: the clocks agree


def test_an_injected_clock_is_kept_on_postgresql(postgres_url: str, made: list[Tickwork]) -> None:
    clock = FakeClock(T0)
    tw = Tickwork(database_url=postgres_url, clock=clock)
    made.append(tw)
    tw.store  # noqa: B018
    assert tw.clock is clock


def test_a_run_triggered_elsewhere_starts_at_once_not_at_the_next_poll(
    postgres_url: str, made: list[Tickwork]
) -> None:
    """The engine would otherwise sleep until its next heartbeat (5 s) or poll (60 s)."""
    ran = threading.Event()
    tw = Tickwork(config=Settings(database_url=postgres_url, poll_interval=timedelta(seconds=60)))
    made.append(tw)
    tw.task(lambda: ran.set(), name="ping")
    tw.add_schedule(name="ping", task="ping", at="2099-01-01T00:00:00+00:00")
    tw.store  # noqa: B018 - opened here, not by two threads at once
    tw.start()
    elsewhere = open_store(postgres_url)
    try:
        _wait(lambda: bool(tw.store.list_workers()), "the engine to register")
        _wait(lambda: _listening(tw), "the engine to listen")
        time.sleep(0.5)  # let the loop settle into its idle wait: this measures the wake-up
        started = time.monotonic()
        elsewhere.trigger("ping", datetime.now(UTC))
        assert ran.wait(WAIT)
        latency = time.monotonic() - started
    finally:
        elsewhere.close()
        tw.stop()
    print(f"trigger from another process to start: {latency * 1000:.0f} ms")
    assert latency < 2.5
    assert [r.state for r in runs_of(tw, "ping")] == [RunState.succeeded]


def test_a_scheduler_alone_does_not_listen_for_runs(
    postgres_url: str, made: list[Tickwork]
) -> None:
    """Woken by every NOTIFY, it would read the store again just as the workers start
    claiming the runs it enqueued; it has nothing to claim."""
    tw = Tickwork(config=Settings(database_url=postgres_url))
    made.append(tw)
    engine = tw.engine(worker=False)
    tw.start(worker=False)
    try:
        _wait(lambda: engine.last_iteration is not None, "the loop to run")
        assert getattr(tw.store, "_listeners", None) == set()
    finally:
        tw.stop()


def _listening(tw: Tickwork) -> bool:
    listeners = getattr(tw.store, "_listeners", set())
    return any(listener.backend_pid is not None for listener in listeners)


def _wait(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_closing_while_a_task_runs_leaves_no_connection_open(
    postgres_url: str, made: list[Tickwork]
) -> None:
    """Stepped by hand (no engine thread to drain it), the worker is stopped by ``close``:
    a task finishing later records nothing, so the closed store opens no new connection
    (one nobody would close: a ResourceWarning whenever the garbage collector ran)."""
    started, release = threading.Event(), threading.Event()
    clock = FakeClock(T0)
    settings = Settings(database_url=postgres_url, stop_grace=timedelta(milliseconds=50))
    tw = Tickwork(config=settings, clock=clock)
    made.append(tw)
    tw.task(lambda: (started.set(), release.wait(WAIT)), name="slow")
    tw.add_schedule(name="slow", task="slow", at="2099-01-01T00:00:00+00:00")
    tw.sync()
    store = tw.store
    assert isinstance(store, PostgresStore)
    store.trigger("slow", clock.now())
    engine = tw.engine()
    engine.run_once(clock.now())
    assert started.wait(WAIT)
    tw.close()  # the task outlives the grace: its lease is released
    release.set()
    assert engine.worker is not None
    assert engine.worker.wait_idle(WAIT)
    assert store._engine.pool.checkedin() == 0  # nothing reopened after close
    elsewhere = open_store(postgres_url)
    try:
        assert [r.state for r in elsewhere.list_runs(RunFilter())] == [RunState.queued]
    finally:
        elsewhere.close()


def test_threads_asking_for_the_store_at_once_share_one(
    postgres_url: str, made: list[Tickwork]
) -> None:
    """An engine thread and a request may open the store at once: one pool, none dropped
    with its connections open."""
    tw = Tickwork(database_url=postgres_url)
    made.append(tw)
    n = 4
    start = threading.Barrier(n)
    seen: list[object] = []

    def ask() -> None:
        start.wait()
        seen.append(tw.store)

    threads = [threading.Thread(target=ask) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert len(seen) == n
    assert len({id(store) for store in seen}) == 1
