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
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from tickwork import __version__, events
from tickwork.alerts import AlertSender
from tickwork.app_api import APIOperations
from tickwork.app_revisions import Revisions
from tickwork.backfill import (
    DEFAULT_LIMIT,
    BackfillPlan,
    BackfillResult,
    plan_backfill,
    run_backfill,
)
from tickwork.clock import Clock, DatabaseClock, SystemClock
from tickwork.config import Settings, environment_settings, load_config
from tickwork.engine import Engine, LoopSettings
from tickwork.errors import ConfigError, InvalidSpecError, NotAppliedError, ScheduleNotFoundError
from tickwork.executors import Executors
from tickwork.executors.shadow import ShadowExecutors
from tickwork.logs import configure_logging
from tickwork.metrics import Metrics, SystemCollector
from tickwork.model import Run, ScheduleRow, WorkerInfo
from tickwork.monitor import Monitor, MonitorSettings
from tickwork.reaper import Reaper
from tickwork.revisions import Plan
from tickwork.scheduler import Scheduler
from tickwork.spec import ScheduleSpec, validate_schedule
from tickwork.startup import SHADOW_ROLE, describe, shadow_conflicts
from tickwork.store import open_store
from tickwork.store.base import (
    ListeningStore,
    Store,
    SyncReport,
    TimekeepingStore,
)
from tickwork.store.ops import OperationsStore
from tickwork.tasks import TaskRegistry, task_name
from tickwork.triggers import fires
from tickwork.worker import Worker, heartbeat_interval

__all__ = ["Tickwork"]

log = logging.getLogger("tickwork")
F = TypeVar("F", bound=Callable[..., Any])


class Tickwork(APIOperations, Revisions):
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
        shadow: bool | None = None,
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
        self._store_guard = threading.Lock()  # threads asking for it first open it once
        self._engine: Engine | None = None
        self._worker_thread: threading.Thread | None = None
        self._alert_sender: AlertSender | None = None
        self._stop = threading.Event()
        # Shadow mode (docs/changes.md): runs are claimed and recorded ``shadowed``, never run.
        if shadow is None:
            shadow = os.environ.get("TICKWORK_SHADOW", "").lower() in ("1", "true", "yes", "on")
        self.shadow = shadow
        self._preflighted = False  # preflight() passed and run() has not started since
        self._roles: tuple[str, ...] = ()  # the loops this process runs now (/ready checks them)
        self.executors: Executors = ShadowExecutors() if shadow else Executors()

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
            # Whole-system figures come from the database at scrape time (docs/metrics.md).
            system = SystemCollector(
                lambda: self.store, lambda: self.clock.now(), stale_after=self.settings.lease
            )
            self._metrics = Metrics(system, schedules=self.settings.metrics_schedules)
        return self._metrics

    @property
    def roles(self) -> tuple[str, ...]:
        """The loops this process runs at the moment ("scheduler", "worker"); empty when it
        only serves (``tickwork api``) or has stopped."""
        return self._roles

    @property
    def stopping(self) -> bool:
        """Whether a stop was asked for (SIGTERM, ``stop()``): the process is draining."""
        return self._stop.is_set() and bool(self._roles)

    def router(self) -> Any:
        """A FastAPI ``APIRouter`` with /health, /ready, /metrics, the API (/api/v1) and the
        dashboard: ``app.include_router(tw.router(), prefix="/tickwork")``."""
        from tickwork.web import build_router  # FastAPI is imported only when served

        return build_router(self)

    @property
    def store(self) -> Store:
        """The store, opened and migrated on first use (by whichever thread asks first: an
        engine thread and a request may ask at once, and must share one pool)."""
        store = self._store
        if store is not None:
            return store
        with self._store_guard:
            if self._store is None:
                self._store = self._open_store()
            return self._store

    def _open_store(self) -> Store:
        # The worker's threads, the loop and the database clock use it at once.
        store = open_store(self.settings.database_url, connections=self.settings.concurrency + 2)
        try:
            store.upgrade()
        except BaseException:
            store.close()  # its pool may hold a connection already (a failed migration)
            raise
        if not self._clock_injected and isinstance(store, TimekeepingStore):
            self.clock = DatabaseClock(store.database_now)
        return store

    def sync(
        self, now: datetime | None = None, *, require_applied: bool = False
    ) -> dict[str, SyncReport]:
        """Store the config and code schedules (new, changed, retired); runs are untouched.

        Config schedules are synced only when a config file was read, and code schedules only
        when this process defines some: a process never retires definitions it does not own
        (a CLI worker does not retire a service's code schedules, nor the reverse). Each is
        the plan/apply path of ``tickwork apply``, recorded as a revision (source ``sync``
        for config, ``python`` for code) when something changed. With ``require_applied``
        a config that differs from the store raises ``NotAppliedError`` and nothing is
        changed. When something changes, the fires that came due under the old definitions
        are accounted for first (run or recorded missed by scheduler passes), so changing a
        schedule during downtime loses nothing; when nothing does, the running loop's
        scheduler catches up (with the worker running between its passes).
        """
        at = now or self.clock.now()
        plans: list[tuple[str, str, Plan]] = []
        if self.settings.path is not None:
            plan = self.plan_config(at, fires_shown=0)
            if require_applied and not plan.empty:
                raise NotAppliedError(f"config {self.settings.path}", plan.summary_text())
            plans.append(("config", "sync", plan))
        elif not self._code_schedules:
            log.warning(
                "no config file read: config schedules in the store are left as they are",
                extra={"action": events.SCHEDULES_SYNCED},
            )
        if self._code_schedules:
            plans.append(("code", "python", self._plan_code(at)))
        reports = {}
        for owner, source, plan in plans:
            what = f"config {self.settings.path}" if owner == "config" else "python code"
            self.apply_plan(plan, applied_by=self._applied_by(what), source=source, now=at)
            reports[owner] = SyncReport(
                added=tuple(plan.names("added")),
                changed=tuple(plan.names("changed")),
                retired=tuple(plan.names("retired")),
                unchanged=plan.unchanged,
            )
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

    # -- operations ----------------------------------------------------------------------

    def trigger(self, name: str) -> Run:
        """A run of ``name`` now, outside its schedule."""
        run = self.store.trigger(name, self.clock.now())
        if self._engine is not None:
            self._engine.wake()
        return run

    def is_paused(self, name: str) -> bool:
        """Whether ``name`` is paused (a manual trigger of it still runs, like a Job made
        from a suspended Kubernetes CronJob; the ways in say so). False for an unknown
        name: the operation on it says it is unknown."""
        row = self.store.get_schedule(name)
        return row is not None and row.paused

    def pause(self, name: str) -> ScheduleRow:
        return self.store.set_paused(name, True, self.clock.now())

    def resume(self, name: str) -> ScheduleRow:
        return self.store.set_paused(name, False, self.clock.now())

    @property
    def ops_store(self) -> OperationsStore:
        """The store's operations interface (backfill, health, alerts, retention)."""
        store = self.store
        if not isinstance(store, OperationsStore):
            raise TypeError(f"{store!r} has no operations interface")
        return store

    def plan_backfill(
        self,
        name: str,
        start: datetime,
        end: datetime,
        *,
        overlap: str | None = None,
        limit: int = DEFAULT_LIMIT,
    ) -> BackfillPlan:
        """The nominal fires of ``name`` in [start, end] a backfill would cover (see
        ``tickwork.backfill``); ``InvalidSpecError`` for a bad range or policy."""
        row = self.store.get_schedule(name)
        if row is None or row.retired:
            raise ScheduleNotFoundError(name)
        return plan_backfill(row, start, end, self.clock.now(), overlap=overlap, limit=limit)

    def backfill(
        self, plan: BackfillPlan, *, progress: Callable[[int, int], None] | None = None
    ) -> BackfillResult:
        """Create the runs of ``plan`` for fires without one (never a second run)."""
        result = run_backfill(self.ops_store, plan, self.clock.now(), progress=progress)
        if self._engine is not None:
            self._engine.wake()
        return result

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
                    on_idle_slot=lambda: wake[0].slot_freed() if wake else None,
                    on_recorded=self.metrics.observe_run,
                )
                if worker
                else None
            )
            self._engine = Engine(
                store,
                self.clock,
                worker_id=self.worker_id,
                scheduler=(
                    Scheduler(store, recheck=self.settings.poll_interval) if scheduler else None
                ),
                worker=work,
                reaper=Reaper(store),
                monitor=self._monitor(store) if scheduler else None,
                settings=LoopSettings(
                    poll_interval=self.settings.poll_interval,
                    heartbeat_interval=heartbeat_interval(self.settings.lease),
                ),
            )
            wake.append(self._engine)
        return self._engine

    def _monitor(self, store: Store) -> Monitor | None:
        if not isinstance(store, OperationsStore):
            return None
        settings = MonitorSettings(
            pause_after=self.settings.pause_after_failures, retention=self.settings.retention
        )
        return Monitor(store, settings=settings, metrics=self.metrics)

    def alert_sender(self) -> AlertSender | None:
        """The webhook sender of this app (built once), or None without ``webhook_url``."""
        if self._alert_sender is None and self.settings.webhook_url:
            self._alert_sender = AlertSender(
                self.ops_store,
                self.clock,
                self.settings.webhook_url,
                self.settings.webhook_secret,
                metrics=self.metrics,
            )
        return self._alert_sender

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

    def preflight(self, *, require_applied: bool = False) -> None:
        """The checks a start must pass, done before any change to the store and before
        ``tickwork run`` opens its port. A shadow process refuses (``NotPermittedError``)
        while alive live workers are registered on its database; a live one logs a warning
        when alive shadow workers are (they would take its runs). With ``require_applied``
        a config that differs from the store raises ``NotAppliedError``."""
        self._preflighted = False
        now = self.clock.now()  # heartbeats are stamped by this clock (the database's on PG)
        shadows = shadow_conflicts(
            self.store.list_workers(),
            shadow=self.shadow,
            now=now,
            lease=self.settings.lease,
            me=self.worker_id,
        )
        if shadows:
            log.warning(
                "shadow workers %s are alive on this database: they claim runs and record "
                "them shadowed without running them; stop them or give them a database of "
                "their own",
                describe(shadows),
                extra={
                    "action": events.SHADOW_WORKERS_ALIVE,
                    "workers": [f"{w.host}:{w.pid}" for w in shadows],
                },
            )
        if require_applied and self.settings.path is not None:
            plan = self.plan_config(now, fires_shown=0)
            if not plan.empty:
                raise NotAppliedError(f"config {self.settings.path}", plan.summary_text())
        self._preflighted = True

    def run(
        self,
        *,
        scheduler: bool = True,
        worker: bool = True,
        install_signals: bool = True,
        require_applied: bool = False,
    ) -> None:
        """Run the loop in this thread until SIGINT/SIGTERM (or ``stop()``), then drain.
        With ``require_applied`` it refuses to start (``NotAppliedError``) when the config
        differs from the stored schedules."""
        # The handlers first: a signal during the start-up (a sync that accounts for a long
        # downtime's fires) stops the loop before it begins, rather than killing the process.
        with self._signals() if install_signals else contextlib.nullcontext():
            self._run(scheduler, worker, require_applied)

    def _run(self, scheduler: bool, worker: bool, require_applied: bool) -> None:
        if not logging.getLogger("tickwork").handlers:  # a library user who set up nothing
            configure_logging(self.settings.log_level)
        if not self._preflighted:  # tickwork run and start() check first (no port open yet)
            self.preflight(require_applied=require_applied)  # before anything is changed
        self._preflighted = False
        # From here until a requested stop has drained, /ready expects these loops to be
        # registered and heartbeating (not ready while starting, nor if the loop dies).
        self._roles = _roles(scheduler, worker)
        engine = self.engine(scheduler=scheduler, worker=worker)
        self.sync(require_applied=require_applied)
        roles = ",".join(self._roles + ((SHADOW_ROLE,) if self.shadow else ()))
        self.register(roles)
        log.info(
            "tickwork running",
            extra={
                "action": events.WORKER_STARTED,
                "worker": self.worker_id,
                "roles": roles,
                "shadow": self.shadow,
                "database": _redact(self.settings.database_url),
            },
        )
        store = self.store
        # Woken when any process enqueues runs (PostgreSQL); polling stays the fallback. A
        # scheduler alone has nothing to claim: woken, it would only read the store again
        # just as the workers start claiming what it enqueued.
        unlisten = None
        if worker and isinstance(store, ListeningStore):
            unlisten = store.listen(engine.wake)
        # Alerts go out from a thread of their own: a slow receiver never holds the loop.
        sender = self.alert_sender() if scheduler else None
        if sender is not None:
            sender.start()
        try:
            engine.run(self._stop)
        finally:
            if unlisten is not None:
                unlisten()
            if sender is not None:
                sender.stop()
            self._drain()
            if self._stop.is_set():
                self._roles = ()

    def start(self, *, scheduler: bool = True, worker: bool = True) -> None:
        """Run the loop in a background thread (for embedding); ``stop()`` ends it."""
        if self._worker_thread is not None:
            return
        self._stop.clear()
        self.preflight()  # a refusal reaches the caller, not only the engine thread
        self._roles = _roles(scheduler, worker)  # /ready: not ready until they heartbeat
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
        engine = self._engine
        if engine is not None and engine.worker is not None and not engine.worker.stopping:
            # Stepped by hand (``run_until_idle``, ``engine().run_once``), never drained: a
            # task still running would record its outcome on a closed store's new pool.
            engine.worker.stop(self.settings.stop_grace.total_seconds())
        self.executors.close()
        with self._store_guard:
            store, self._store = self._store, None
        if store is not None:
            store.close()

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


def _roles(scheduler: bool, worker: bool) -> tuple[str, ...]:
    return tuple(r for r, on in (("scheduler", scheduler), ("worker", worker)) if on)


def _redact(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.split("@", 1)[1]
    return f"{scheme}{sep}{rest}"
