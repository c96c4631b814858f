"""Driving tickwork end to end: schedules stored through the facade, runs enqueued by the
scheduler, claimed, executed and recorded by the engine, counted by side effect.

Used by the throughput and lag workloads, in this process (``Tickwork.start``: the loop of
``tickwork run``) or in child processes (``tickwork worker`` / ``tickwork scheduler`` roles,
for PostgreSQL).
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.harness import Counter
from tickwork import Tickwork
from tickwork.config import Settings
from tickwork.context import TaskContext
from tickwork.model import RunState, idempotency_key

__all__ = ["EngineResult", "drain_backlog"]

TASK = "bench:noop"


@dataclass(frozen=True, slots=True)
class EngineResult:
    runs_per_s: float
    check: dict[str, int]
    stored_succeeded: int
    elapsed_s: float


def settings(url: str, concurrency: int) -> Settings:
    return Settings(
        database_url=url,
        concurrency=concurrency,
        # Per-run info lines at 10^4 runs/s would measure the log sink; warnings are only
        # "no config file read" here. Errors (the database unavailable) still show.
        log_level="error",
        poll_interval=timedelta(milliseconds=200),
    )


def app(url: str, concurrency: int, task: Callable[[TaskContext], None]) -> Tickwork:
    tw = Tickwork(config=settings(url, concurrency))
    tw.task(task, name=TASK)
    logging.getLogger("tickwork").setLevel(logging.ERROR)
    return tw


def stored_window(tw: Tickwork) -> float:
    """Seconds from the first run's enqueue (its ``created_at``) to the last one's end (its
    ``finished_at``), as the store recorded them: the window of an end-to-end drain whoever
    enqueued (a start-up sync enqueues fires that came due while it was setting up)."""
    from sqlalchemy import func, select

    from tickwork.store.schema import runs

    engine = tw.store._engine  # type: ignore[attr-defined]  # the bench reads the table itself
    with engine.connect() as conn:
        first, last = conn.execute(
            select(func.min(runs.c.created_at), func.max(runs.c.finished_at))
        ).one()
    return float((last - first).total_seconds())


def lead_time(runs: int) -> timedelta:
    """How far ahead of now a backlog's one fire instant is set: past the time it takes to
    store ``runs`` schedules (about 1 ms each here) and to start the workers, so the fires
    come due in the measured loop (the window is the store's anyway: ``stored_window``)."""
    return timedelta(seconds=2 + runs / 1000)


def one_off_schedules(tw: Tickwork, count: int, at: datetime) -> set[str]:
    """``count`` one-off schedules firing at ``at``; their idempotency keys."""
    for i in range(count):
        tw.add_schedule(name=f"s{i:07d}", task=TASK, at=at.isoformat())
    return {idempotency_key(f"s{i:07d}", at) for i in range(count)}


def drain_backlog(url: str, runs: int, *, concurrency: int = 32) -> EngineResult:
    """``runs`` one-off schedules all due at one instant, drained by one process running
    scheduler and worker (``tickwork run``): runs per second from the first run's enqueue
    to the last run's end, as the store recorded them (``stored_window``).

    The loop is started (its start-up sync done) before the instant, so the backlog comes
    due in the running loop: enqueued by its scheduler passes, as in a service that is up
    when its fires come due. A start-up sync would otherwise enqueue it and then compare
    every definition before the loop begins, inside the window."""
    counter = Counter(expected=runs)

    def noop(context: TaskContext) -> None:
        counter.record(context.idempotency_key)

    tw = app(url, concurrency, noop)
    # Storing N schedules takes a moment; the fire time is set past it and past the
    # start-up, so that a scheduler pass of the running loop finds the whole backlog due.
    fire = (datetime.now(UTC) + lead_time(runs)).replace(microsecond=0)
    expected = one_off_schedules(tw, runs, fire)
    tw.sync(datetime.now(UTC))
    engine = tw.engine()  # built here, run by start()
    began = time.perf_counter()
    tw.start()
    try:
        while engine.last_iteration is None:  # started: synced, loop running
            time.sleep(0.01)
        if datetime.now(UTC) >= fire:
            raise RuntimeError("the start-up outlasted the lead time; the window is wrong")
        counter.done.wait(timeout=60 + runs / 500 + lead_time(runs).total_seconds())
        succeeded = 0
        while time.perf_counter() - began < 60 + runs / 500 + lead_time(runs).total_seconds():
            succeeded = tw.store.count_runs()[RunState.succeeded]
            if succeeded >= runs:
                break
            time.sleep(0.005)
        elapsed = time.perf_counter() - began
    finally:
        tw.stop()
    window = stored_window(tw) if succeeded >= runs else elapsed
    tw.close()
    check = counter.check(expected)
    return EngineResult(runs / window, check, succeeded, window)


def _child(url: str, roles: str, concurrency: int, ready: Any, stop: Any, out: Any) -> None:
    """A ``tickwork worker`` (or scheduler) process; reports each execution's idempotency
    key and lag (start minus nominal fire, seconds) to ``out`` when stopped."""
    seen: list[tuple[str, float]] = []

    def noop(context: TaskContext) -> None:
        seen.append((context.idempotency_key, time.time() - context.nominal_fire.timestamp()))

    tw = app(url, concurrency, noop)
    scheduler, worker = "scheduler" in roles, "worker" in roles
    engine = tw.engine(scheduler=scheduler, worker=worker)  # built here, run by start()
    tw.start(scheduler=scheduler, worker=worker)
    while engine.last_iteration is None:  # started: store open, synced, loop running
        time.sleep(0.01)
    ready.set()
    stop.wait()
    tw.stop()
    tw.close()
    out.put(seen)


def spawn(url: str, roles: str, concurrency: int) -> tuple[Any, Any, Any, Any]:
    """A child process with ``roles`` (``worker``, ``scheduler``): (process, ready, stop,
    results queue)."""
    ctx = multiprocessing.get_context("spawn")
    ready, stop, out = ctx.Event(), ctx.Event(), ctx.Queue()
    proc = ctx.Process(target=_child, args=(url, roles, concurrency, ready, stop, out))
    proc.start()
    return proc, ready, stop, out
