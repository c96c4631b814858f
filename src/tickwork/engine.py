"""The engine loop: scheduler, worker and reaper, each stepped with one ``now``; the
monitor's periodic passes beside it on a thread of their own.

One iteration reads the clock once and runs the steps this process has roles for; then it
waits until the store's next wake-up, the next heartbeat or the poll interval, or until woken
(a run finished, a run was triggered). Database outages make the loop back off and are logged
once per outage, not per attempt.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from tickwork import events
from tickwork.clock import Clock
from tickwork.errors import StoreUnavailableError
from tickwork.monitor import Monitor
from tickwork.reaper import Reaper
from tickwork.scheduler import Scheduler
from tickwork.store.base import Store
from tickwork.worker import Worker

__all__ = ["Engine", "LoopSettings"]

log = logging.getLogger("tickwork.engine")


@dataclass(frozen=True, slots=True)
class LoopSettings:
    poll_interval: timedelta = timedelta(seconds=1)
    heartbeat_interval: timedelta = timedelta(seconds=10)
    reap_interval: timedelta = timedelta(seconds=5)
    backoff_max: timedelta = timedelta(seconds=30)


class Engine:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        worker_id: str,
        scheduler: Scheduler | None = None,
        worker: Worker | None = None,
        reaper: Reaper | None = None,
        settings: LoopSettings | None = None,
        monitor: Monitor | None = None,
    ) -> None:
        self.store, self.clock, self.worker_id = store, clock, worker_id
        self.scheduler, self.worker, self.reaper = scheduler, worker, reaper
        self.monitor = monitor
        self.settings = settings or LoopSettings()
        self.wake_event = threading.Event()
        self._next_heartbeat: datetime | None = None
        self._next_reap: datetime | None = None
        self._outage_since: datetime | None = None
        self.last_iteration: datetime | None = None
        self._monitor_thread: threading.Thread | None = None

    def wake(self) -> None:
        """Look again now: something changed (a run triggered, a schedule changed, the
        store announced runs)."""
        if self.worker is not None:
            self.worker.runs_announced()
        if self.scheduler is not None:
            self.scheduler.schedules_changed()
        self.wake_event.set()

    def slot_freed(self) -> None:
        """Look again now: a worker slot is free (its result waits to be written)."""
        self.wake_event.set()

    def run_once(self, now: datetime) -> int:
        """One iteration of every step this engine has. Returns the work done (runs enqueued,
        claimed or reclaimed)."""
        done = 0
        # What is due starts first (enqueue, then claim): the periodic writes below would
        # otherwise sit between a fire and its start whenever they come round.
        if self.scheduler is not None:
            result = self.scheduler.run_once(now)
            done += len(result.queued) + result.missed + result.skipped
            if result.queued and self.worker is not None:
                self.worker.runs_announced()
        if self.worker is not None:
            done += self.worker.run_once(now)
        # Heartbeats before the reaper: our own leases are extended before any reaper looks
        # at them (a run claimed just now has a fresh lease anyway).
        if self._next_heartbeat is None or now >= self._next_heartbeat:
            if self.worker is not None:
                self.worker.heartbeat_once(now)
            self.store.heartbeat_worker(self.worker_id, now)
            self._next_heartbeat = now + self.settings.heartbeat_interval
        if self.reaper is not None and (self._next_reap is None or now >= self._next_reap):
            done += len(self.reaper.run_once(now))
            self._next_reap = now + self.settings.reap_interval
        if self.monitor is not None:  # health, alerts, backfill feed, retention
            # In ``run`` the periodic passes have a thread of their own: a pass over many
            # finished runs takes tens of milliseconds, which a fire coming due would wait.
            threaded = self._monitor_thread is not None
            done += self.monitor.feed(now) if threaded else self.monitor.run_once(now)
        self.last_iteration = now
        return done

    def next_deadline(self, now: datetime) -> datetime:
        """When the loop must look again, at the latest."""
        deadline = now + self.settings.poll_interval
        deferred = self.worker.claim_deferred_until if self.worker is not None else None
        # A deferred claim looks again within CLAIM_COALESCE anyway: no need to ask the
        # store when the next fire is (a query) for a wait that short.
        wakeup = None
        if deferred is None:
            # Waiting runs' due times are the worker's. The fires are the scheduler's, and a
            # worker alone wakes at them too: a scheduler elsewhere enqueues them then, and
            # a worker already awake claims sooner once told (NOTIFY) than one woken cold
            # (measured: 40 against 65-70 ms from enqueue to claim on a machine slow to
            # wake from idle; docs/benchmarks.md, item 32).
            wakeup = self.store.next_wakeup(now, runs=self.worker is not None)
        for candidate in (self._next_heartbeat, self._next_reap, deferred, wakeup):
            if candidate is not None and now < candidate < deadline:
                deadline = candidate
        return deadline

    def run(self, stop: threading.Event) -> None:
        """Loop until ``stop`` is set (the monitor's periodic passes on a thread of their
        own meanwhile)."""
        if self.monitor is not None:
            monitor = self.monitor
            self._monitor_thread = threading.Thread(
                target=self._monitor_loop, args=(monitor, stop), name="tickwork-monitor"
            )
            self._monitor_thread.start()
        try:
            self._loop(stop)
        finally:
            thread, self._monitor_thread = self._monitor_thread, None
            if thread is not None:
                thread.join()

    def _monitor_loop(self, monitor: Monitor, stop: threading.Event) -> None:
        """The monitor's periodic passes until ``stop``; an unavailable database is the
        loop's to report (it logs each outage once): this one tries again a second later."""
        while not stop.is_set():
            now = self.clock.now()
            try:
                until = monitor.periodic(now)
            except StoreUnavailableError:
                until = now + timedelta(seconds=1)
            if until > now:
                self.clock.wait(until, stop)

    def _loop(self, stop: threading.Event) -> None:
        backoff = timedelta(seconds=0.5)
        while not stop.is_set():
            self.wake_event.clear()  # a wake during this iteration makes the wait return at once
            now = self.clock.now()
            try:
                done = self.run_once(now)
                until = now if done else self.next_deadline(now)
                if self._outage_since is not None:
                    log.warning(
                        "database reachable again",
                        extra={
                            "action": events.STORE_RECOVERED,
                            "outage_s": (now - self._outage_since).total_seconds(),
                        },
                    )
                    self._outage_since = None
                    backoff = timedelta(seconds=0.5)
            except StoreUnavailableError as err:
                if self._outage_since is None:
                    self._outage_since = now
                    log.error(
                        "database unavailable, retrying with backoff: %s",
                        err,
                        extra={"action": events.STORE_UNAVAILABLE},
                    )
                until = now + backoff
                backoff = min(backoff * 2, self.settings.backoff_max)
            if until > now and not stop.is_set():
                self.clock.wait(until, self.wake_event)
