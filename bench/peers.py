"""The schedulers users would otherwise pick, driven through the same workloads.

APScheduler 3.11 (``BackgroundScheduler``, thread pool of 10) with its in-memory job store
(not durable) and its SQLAlchemy job store on a SQLite file (durable). Its jobs live in
that store; a job store keeps no run history, so "recorded" means the job store's own
writes (removing a fired date job, moving a cron job on). procrastinate 3.10 on
PostgreSQL: jobs deferred in one batch, one worker. Counted by side effect, like tickwork.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.harness import Counter

__all__ = ["apscheduler_backlog", "apscheduler_lag"]

_counter: Counter | None = None


def record(key: str) -> None:
    """The job of the backlog workload (importable by reference: the SQLAlchemy store
    pickles jobs)."""
    assert _counter is not None
    _counter.record(key)


def noop() -> None:
    """The job of the lag workload (its lag is read from APScheduler's execution event)."""


def _scheduler(store: str, path: str | None) -> Any:
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.jobstores.memory import MemoryJobStore
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    jobstore = MemoryJobStore() if store == "memory" else SQLAlchemyJobStore(f"sqlite:///{path}")
    return BackgroundScheduler(
        jobstores={"default": jobstore},
        executors={"default": ThreadPoolExecutor(10)},
        job_defaults={"coalesce": False, "misfire_grace_time": None, "max_instances": 1000},
        timezone=UTC,
    )


def apscheduler_backlog(store: str, path: str | None, runs: int) -> tuple[float, dict[str, int]]:
    """``runs`` date jobs all due at one instant: runs per second from then until the last
    one executed, and the correctness check."""
    global _counter
    from apscheduler.triggers.date import DateTrigger

    counter = _counter = Counter(expected=runs)
    sched = _scheduler(store, path)
    sched.start(paused=True)
    fire = datetime.now(UTC) + timedelta(seconds=1 + runs / 2000)
    keys = set()
    for i in range(runs):
        key = f"j{i:07d}"
        keys.add(key)
        sched.add_job(
            "bench.peers:record", DateTrigger(fire), args=[key], id=key, replace_existing=True
        )
    wait = (fire - datetime.now(UTC)).total_seconds()
    if wait > 0:
        time.sleep(wait)
    began = time.perf_counter()
    sched.resume()
    counter.done.wait(timeout=60 + runs / 200)
    elapsed = time.perf_counter() - began
    sched.shutdown(wait=True)
    return runs / elapsed, counter.check(keys)


def apscheduler_lag(
    store: str, path: str | None, schedules: int, seconds: float
) -> tuple[list[float], int, int]:
    """``schedules`` cron jobs every second, all due on the same second, for ``seconds``:
    the lag (seconds) of each execution of a fire inside the window, the fires expected
    there and the executions of a fire seen more than once. The lag is taken when the job
    has run (``EVENT_JOB_EXECUTED``: now minus its scheduled run time); for a no-op job
    that is its start, give or take the executor's bookkeeping."""
    from apscheduler.events import EVENT_JOB_EXECUTED, JobExecutionEvent
    from apscheduler.triggers.cron import CronTrigger

    seen: list[tuple[str, float, float]] = []

    def executed(event: JobExecutionEvent) -> None:
        nominal = event.scheduled_run_time.timestamp()
        seen.append((event.job_id, nominal, time.time() - nominal))

    sched = _scheduler(store, path)
    sched.add_listener(executed, EVENT_JOB_EXECUTED)
    for i in range(schedules):
        sched.add_job("bench.peers:noop", CronTrigger(second="*", timezone=UTC), id=f"c{i}")
    began = time.time()
    sched.start()
    time.sleep(seconds + 1.5)
    sched.shutdown(wait=True)
    lo, hi = int(began) + 2, int(began + seconds)
    inside = [(job, nominal, lag) for job, nominal, lag in list(seen) if lo <= nominal < hi]
    fires = [(job, nominal) for job, nominal, _lag in inside]
    return [lag for _j, _n, lag in inside], schedules * (hi - lo), len(fires) - len(set(fires))


def procrastinate_backlog(
    url: str, runs: int, concurrency: int = 10
) -> tuple[float, dict[str, int]]:
    """procrastinate 3 on PostgreSQL: ``runs`` no-op jobs deferred in one batch, drained by
    one worker (``concurrency`` jobs at once, exits when the queue is empty); runs per
    second and the correctness check."""
    import asyncio

    import procrastinate

    logging.getLogger("procrastinate").setLevel(logging.ERROR)
    counter = Counter(expected=runs)
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=url))

    @app.task(name="bench_noop")
    def noop(key: str) -> None:
        counter.record(key)

    keys = {f"p{i:07d}" for i in range(runs)}

    async def drain() -> float:
        async with app.open_async():
            await app.schema_manager.apply_schema_async()
            await noop.batch_defer_async(*[{"key": key} for key in sorted(keys)])
            began = time.perf_counter()
            await app.run_worker_async(
                concurrency=concurrency, wait=False, install_signal_handlers=False
            )
            return time.perf_counter() - began

    elapsed = asyncio.run(drain())
    return runs / elapsed, counter.check(keys)
