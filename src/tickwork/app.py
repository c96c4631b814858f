"""``Tickwork``: the application core every way in (Python, CLI, API) goes through."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from tickwork import __version__, events
from tickwork.clock import Clock, DatabaseClock, SystemClock
from tickwork.config import Settings, environment_settings, load_config
from tickwork.engine import Engine, LoopSettings
from tickwork.errors import ConfigError, InvalidSpecError, ScheduleNotFoundError
from tickwork.executors import Executors
from tickwork.logs import configure_logging
from tickwork.metrics import Metrics
from tickwork.model import Run, ScheduleRow, WorkerInfo
from tickwork.reaper import Reaper
from tickwork.scheduler import Scheduler, first_fire
from tickwork.spec import ScheduleSpec, validate_schedule
from tickwork.store import open_store
from tickwork.store.base import (
    ListeningStore,
    ScheduleUpsert,
    Store,
    SyncReport,
    TimekeepingStore,
)
from tickwork.tasks import TaskRegistry, task_name
from tickwork.triggers import fires
from tickwork.worker import Worker

__all__ = ["Tickwork"]

log = logging.getLogger("tickwork")
STORED_BY_NAME = 200  # up to this many schedules to sync are read one by one
F = TypeVar("F", bound=Callable[..., Any])


class Tickwork:
    """Schedules, a store and an engine.

    >>> tw = Tickwork(database_url="sqlite:///tickwork.db")
    >>> @tw.task(cron="0 3 * * *", tz="Europe/Berlin", retries=3, timeout="10m")
    ... def nightly_cleanup(context): ...
    """

    def __init__(
        self,
        database_url: str | None = None,
        *,
        config: str | Path | Settings | None = None,
        timezone: str | None = None,
        concurrency: int | None = None,
        clock: Clock | None = None,
        worker_id: str | None = None,
    ) -> None:
        if isinstance(config, Settings):
            settings = config
        elif config is not None:
            settings = load_config(config)
        else:
            settings = environment_settings()  # no file: defaults, then TICKWORK_* variables
        if database_url is not None:
            settings = replace(settings, database_url=database_url)
        if timezone is not None:
            settings = replace(settings, timezone=timezone)
        if concurrency is not None:
            settings = replace(settings, concurrency=concurrency)
        self.settings = settings
        # Without an injected clock: the host's, until a store with a clock of its own
        # (PostgreSQL) is opened; then the database's (DESIGN.md, engine sketch).
        self.clock: Clock = clock or SystemClock()
        self._clock_injected = clock is not None
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.tasks = TaskRegistry()
        self._metrics: Metrics | None = None
        self._code_schedules: dict[str, dict[str, Any]] = {}
        self._store: Store | None = None
        self._engine: Engine | None = None
        self._worker_thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.executors = Executors()

    # -- definitions ---------------------------------------------------------------------

    def task(self, fn: F | None = None, *, name: str | None = None, **schedule: Any) -> Any:
        """Register a callable (under ``name``, default ``module:qualname``); with ``cron=``,
        ``every=`` or ``at=`` also a schedule of that name (default: the function's) that runs
        it. Other keyword arguments are the schedule keys of tickwork.toml (retries, timeout,
        overlap, catchup, jitter, tz, ...). Invalid arguments raise ``ConfigError`` here."""

        def register(target: F) -> F:
            # The stored reference: the given name, else module:qualname of the callable.
            ref = name or task_name(target)
            self.tasks.register(ref, target)
            if schedule:
                label = name or getattr(target, "__name__", type(target).__name__)
                self.add_schedule(name=label, task=ref, **schedule)
            return target

        return register(fn) if fn is not None else register

    def add_schedule(self, **table: Any) -> dict[str, Any]:
        """Define a schedule in code with the keys of a tickwork.toml [[schedule]] table
        (``command=`` for shell commands, ``task=`` for a registered or importable task).
        Returns the validated definition; ``ConfigError`` lists every problem."""
        spec = validate_schedule(table, default_tz=self.settings.timezone)
        if spec["name"] in self._code_schedules:
            raise ConfigError(
                [
                    InvalidSpecError(
                        "name",
                        spec["name"],
                        "a name used by one schedule only",
                        message=f"schedule {spec['name']!r} is defined twice in code",
                    )
                ]
            )
        self._code_schedules[spec["name"]] = spec
        return spec

    # -- store and sync ------------------------------------------------------------------

    @property
    def metrics(self) -> Metrics:
        """This app's Prometheus metrics (its own registry; ``/metrics`` exposes it)."""
        if self._metrics is None:
            self._metrics = Metrics()
        return self._metrics

    @property
    def store(self) -> Store:
        if self._store is None:
            # The worker's threads, the loop and the database clock use it at once.
            store = open_store(
                self.settings.database_url, connections=self.settings.concurrency + 2
            )
            store.upgrade()
            if not self._clock_injected and isinstance(store, TimekeepingStore):
                self.clock = DatabaseClock(store.database_now)
            self._store = store
        return self._store

    def sync(self, now: datetime | None = None) -> dict[str, SyncReport]:
        """Store the config and code schedules (new, changed, retired); runs are untouched.

        Config schedules are synced only when a config file was read, and code schedules only
        when this process defines some: a process never retires definitions it does not own
        (a CLI worker does not retire a service's code schedules, nor the reverse). Fires that
        came due under the old definitions are accounted for first (run or recorded missed by
        one scheduler pass), so changing a schedule during downtime loses nothing.
        """
        at = now or self.clock.now()
        scheduler = Scheduler(self.store)
        while scheduler.run_once(at).schedules >= scheduler.batch:
            pass
        sources: list[tuple[str, list[dict[str, Any]]]] = []
        if self.settings.path is not None:
            sources.append(("config", list(self.settings.schedules)))
        elif not self._code_schedules:
            log.warning(
                "no config file read: config schedules in the store are left as they are",
                extra={"action": events.SCHEDULES_SYNCED},
            )
        if self._code_schedules:
            sources.append(("code", list(self._code_schedules.values())))
        existing = self._stored({spec["name"] for _, specs in sources for spec in specs})
        reports = {}
        for source, specs in sources:
            items = [self._upsert(spec, existing.get(spec["name"]), at) for spec in specs]
            reports[source] = self.store.sync_schedules(items, source, at)
        log.info(
            "schedules synced",
            extra={
                "action": events.SCHEDULES_SYNCED,
                **{
                    f"{src}_{kind}": len(getattr(rep, kind))
                    for src, rep in reports.items()
                    for kind in ("added", "changed", "retired")
                },
            },
        )
        return reports

    def _stored(self, names: set[str]) -> dict[str, ScheduleRow]:
        """The stored rows (retired included) of ``names``: one read each for a few, one
        listing for many. Never every schedule for a few names: a store with 10^6 schedules
        made through the API would be loaded whole at each start-up."""
        if len(names) > STORED_BY_NAME:
            rows = self.store.list_schedules(include_retired=True)
            return {row.name: row for row in rows if row.name in names}
        found = {name: self.store.get_schedule(name) for name in sorted(names)}
        return {name: row for name, row in found.items() if row is not None}

    def _upsert(
        self, spec: dict[str, Any], row: ScheduleRow | None, now: datetime
    ) -> ScheduleUpsert:
        parsed = ScheduleSpec.from_stored(spec)
        # Whole seconds: interval fires (and their idempotency keys) read cleanly.
        anchor = row.anchor if row is not None else (parsed.start_at or now.replace(microsecond=0))
        return ScheduleUpsert(spec["name"], spec, first_fire(parsed, anchor, now), anchor)

    # -- operations ----------------------------------------------------------------------

    def trigger(self, name: str) -> Run:
        """A run of ``name`` now, outside its schedule."""
        run = self.store.trigger(name, self.clock.now())
        if self._engine is not None:
            self._engine.wake()
        return run

    def pause(self, name: str) -> ScheduleRow:
        return self.store.set_paused(name, True, self.clock.now())

    def resume(self, name: str) -> ScheduleRow:
        return self.store.set_paused(name, False, self.clock.now())

    def next_fires(self, name: str, count: int = 5) -> list[datetime]:
        """The next nominal fires of a stored schedule, in its zone."""
        row = self.store.get_schedule(name)
        if row is None:
            raise ScheduleNotFoundError(name)
        if row.next_fire_at is None:
            return []
        spec = ScheduleSpec.from_stored(row.spec)
        trigger = spec.trigger(row.anchor)
        first = row.next_fire_at
        later = list(fires(trigger, first, count - 1)) if count > 1 else []
        return [f.astimezone(spec.tz) for f in [first, *later]]

    # -- running -------------------------------------------------------------------------

    def engine(self, *, scheduler: bool = True, worker: bool = True) -> Engine:
        """The loop for this process's roles (built once)."""
        if self._engine is None:
            store = self.store
            wake: list[Engine] = []
            work = (
                Worker(
                    store,
                    self.tasks,
                    self.executors,
                    self.clock,
                    worker_id=self.worker_id,
                    concurrency=self.settings.concurrency,
                    lease=self.settings.lease,
                    on_idle_slot=lambda: wake[0].wake() if wake else None,
                )
                if worker
                else None
            )
            self._engine = Engine(
                store,
                self.clock,
                worker_id=self.worker_id,
                scheduler=Scheduler(store) if scheduler else None,
                worker=work,
                reaper=Reaper(store),
                settings=LoopSettings(
                    poll_interval=self.settings.poll_interval,
                    # Every lease/3 (at most 5 s): also how soon a cancelled attempt hears of it.
                    heartbeat_interval=max(
                        min(self.settings.lease / 3, timedelta(seconds=5)),
                        timedelta(milliseconds=100),
                    ),
                ),
            )
            wake.append(self._engine)
        return self._engine

    def register(self, roles: str) -> None:
        now = self.clock.now()
        self.store.register_worker(
            WorkerInfo(
                id=self.worker_id,
                host=socket.gethostname(),
                pid=os.getpid(),
                version=__version__,
                roles=roles,
                started_at=now,
                heartbeat_at=now,
            )
        )

    def run(
        self, *, scheduler: bool = True, worker: bool = True, install_signals: bool = True
    ) -> None:
        """Run the loop in this thread until SIGINT/SIGTERM (or ``stop()``), then drain."""
        if not logging.getLogger("tickwork").handlers:  # a library user who set up nothing
            configure_logging(self.settings.log_level)
        engine = self.engine(scheduler=scheduler, worker=worker)
        self.sync()
        roles = ",".join(r for r, on in (("scheduler", scheduler), ("worker", worker)) if on)
        self.register(roles)
        log.info(
            "tickwork running",
            extra={
                "action": events.WORKER_STARTED,
                "worker": self.worker_id,
                "roles": roles,
                "database": _redact(self.settings.database_url),
            },
        )
        store = self.store
        # Woken when any process enqueues runs (PostgreSQL); polling stays the fallback.
        unlisten = store.listen(engine.wake) if isinstance(store, ListeningStore) else None
        with self._signals() if install_signals else contextlib.nullcontext():
            try:
                engine.run(self._stop)
            finally:
                if unlisten is not None:
                    unlisten()
                self._drain()

    def start(self, *, scheduler: bool = True, worker: bool = True) -> None:
        """Run the loop in a background thread (for embedding); ``stop()`` ends it."""
        if self._worker_thread is not None:
            return
        self._stop.clear()
        self._worker_thread = threading.Thread(
            target=self.run,
            kwargs={"scheduler": scheduler, "worker": worker, "install_signals": False},
            name="tickwork-engine",
            daemon=True,
        )
        self._worker_thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._engine is not None:
            self._engine.wake()
        thread, self._worker_thread = self._worker_thread, None
        if thread is not None:
            thread.join(self.settings.stop_grace.total_seconds() + 10)

    @contextlib.asynccontextmanager
    async def lifespan(self, app: object = None) -> AsyncIterator[None]:
        """``FastAPI(lifespan=tw.lifespan)``: the engine runs while the service does."""
        self.start()
        try:
            yield
        finally:
            await asyncio.to_thread(self.stop)

    def close(self) -> None:
        self.stop()
        self.executors.close()
        if self._store is not None:
            self._store.close()
            self._store = None

    def _drain(self) -> None:
        engine = self._engine
        if engine is not None and engine.worker is not None:
            engine.worker.stop(self.settings.stop_grace.total_seconds())
        with contextlib.suppress(Exception):
            self.store.deregister_worker(self.worker_id)
        log.info(
            "tickwork stopped", extra={"action": events.WORKER_STOPPED, "worker": self.worker_id}
        )

    @contextlib.contextmanager
    def _signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum: int, _frame: object) -> None:
            log.info(
                "signal %s: stopping (grace %ss)",
                signal.Signals(signum).name,
                self.settings.stop_grace.total_seconds(),
                extra={"action": events.WORKER_STOPPING},
            )
            self._stop.set()
            if self._engine is not None:
                self._engine.wake()

        previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)


def _redact(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.split("@", 1)[1]
    return f"{scheme}{sep}{rest}"
