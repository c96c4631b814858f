"""Prometheus metrics of one ``Tickwork`` app, in a registry of its own.

One registry per app (not prometheus-client's global one), so that several apps in one
process (tests, a service embedding two) never collide. ``/metrics`` exposes
``Tickwork.metrics.registry``. Names follow Prometheus conventions: ``tickwork_`` prefix,
base units (seconds), ``_total`` for counters; labels stay bounded (route templates, never
raw paths; schedule names and run states, never run ids or worker ids).

Two sources, because tickwork runs as many processes on many hosts (docs/metrics.md):

- the state of the whole system (runs by schedule and final state, queue depth, last
  success, overdue schedules, worker heartbeats) is read from the database when Prometheus
  scrapes (``SystemCollector``), so every process answers the same whichever one is asked;
- what happens inside one process (run durations and lag, observed by the worker that ran
  the attempt; HTTP latency) is observed in memory, per process. With several processes
  behind one port (``uvicorn --workers N``) set ``PROMETHEUS_MULTIPROC_DIR`` and
  ``exposition`` merges every process's observations (prometheus-client's multiprocess mode).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tickwork.errors import TickworkError
from tickwork.model import Outcome, Run, RunState
from tickwork.store.snapshot import MetricsStore, SystemSnapshot

__all__ = [
    "HTTP_BUCKETS",
    "LAG_BUCKETS",
    "METRIC_NAMES",
    "OTHER_SCHEDULE",
    "RUN_BUCKETS",
    "Metrics",
    "SystemCollector",
]

log = logging.getLogger("tickwork.metrics")

HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# A task takes from milliseconds (a cache refresh) to hours (a nightly export).
RUN_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 1800, 3600, 4 * 3600)
# Start minus nominal fire: sub-second when healthy; minutes when workers are saturated.
LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)

ROLES: Final = ("scheduler", "worker")
OTHER_SCHEDULE: Final = "_other"  # the schedule label beyond Metrics.schedule_series

# Every metric family /metrics exposes, with its type (the names are part of the interface:
# dashboards and alerts use them; tests/web/test_metrics.py checks the exposition against it).
METRIC_NAMES: Final[dict[str, str]] = {
    "tickwork_http_request_duration_seconds": "histogram",
    "tickwork_run_duration_seconds": "histogram",
    "tickwork_run_lag_seconds": "histogram",
    "tickwork_store_up": "gauge",
    "tickwork_metrics_read_duration_seconds": "gauge",
    "tickwork_runs": "counter",  # exposed as tickwork_runs_total
    "tickwork_runs_unfinished": "gauge",
    "tickwork_queue_depth": "gauge",
    "tickwork_schedules": "gauge",
    "tickwork_schedule_last_success_timestamp_seconds": "gauge",
    "tickwork_schedule_overdue": "gauge",
    "tickwork_overdue_schedules": "gauge",
    "tickwork_workers": "gauge",
    "tickwork_worker_heartbeat_age_seconds": "gauge",
    "tickwork_alerts": "counter",  # exposed as tickwork_alerts_total
}


class Metrics:
    """The app's metric objects. Observing is cheap and thread-safe; nothing here does I/O
    (the ``system`` collector reads the database only when the registry is collected)."""

    def __init__(self, system: Collector | None = None, *, schedules: int = 1000) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.system = system
        # A series per schedule name costs memory here and in Prometheus, and creating one
        # costs more than an observation: the first ``schedules`` names seen get their own,
        # later ones share OTHER_SCHEDULE (the database-side families are not capped: they
        # are read at scrape time, not kept).
        self.schedule_series = schedules
        self._named: set[str] = set()
        self._children: dict[tuple[object, ...], Histogram] = {}
        self._named_guard = threading.Lock()
        self.http_request_duration = Histogram(
            "tickwork_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template, method and status code.",
            ["method", "route", "status"],
            buckets=HTTP_BUCKETS,
            registry=self.registry,
        )
        # Alerts (monitor and webhook sender): outcome is created, delivered, retried
        # (a failed attempt that will be tried again) or failed (given up).
        self.alerts = Counter(
            "tickwork_alerts",
            "Alerts by kind (run_failed, overdue, paused_on_failure) and outcome.",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.run_duration = Histogram(
            "tickwork_run_duration_seconds",
            "Time one attempt of a run took, by schedule and the attempt's outcome "
            "(observed by the process that ran it).",
            ["schedule", "state"],
            buckets=RUN_BUCKETS,
            registry=self.registry,
        )
        self.run_lag = Histogram(
            "tickwork_run_lag_seconds",
            "Start of a run's first attempt minus its nominal fire time, by schedule "
            "(observed by the process that ran it).",
            ["schedule"],
            buckets=LAG_BUCKETS,
            registry=self.registry,
        )
        if system is not None:
            self.registry.register(system)

    def observe_run(self, run: Run, outcome: Outcome) -> None:
        """A worker recorded ``outcome`` for the attempt ``run`` (as claimed): its duration,
        and for a first attempt its lag. Retries are not lag: their start is the backoff's."""
        schedule = self._series(run.schedule)
        if outcome.duration is not None:
            self._child(self.run_duration, schedule, outcome.state.value).observe(
                max(outcome.duration.total_seconds(), 0.0)
            )
        if run.attempt == 1 and run.started_at is not None:
            lag = (run.started_at - run.nominal_fire).total_seconds()
            self._child(self.run_lag, schedule).observe(max(lag, 0.0))

    def _child(self, metric: Histogram, *labels: str) -> Histogram:
        """``metric.labels(*labels)``, kept: the series are bounded (``_series``), and
        ``labels`` validates and locks on every call (~10 µs, once per run)."""
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def _series(self, schedule: str) -> str:
        """The schedule label ``schedule``'s observations go under."""
        if schedule in self._named:
            return schedule
        with self._named_guard:
            if len(self._named) < self.schedule_series:
                self._named.add(schedule)
                return schedule
        return OTHER_SCHEDULE

    def exposition(self) -> tuple[bytes, str]:
        """The text ``/metrics`` answers, and its content type. In prometheus-client's
        multiprocess mode (``PROMETHEUS_MULTIPROC_DIR`` set) the in-process metrics are every
        process's, merged from the directory; the system metrics are read once."""
        registry = self.registry
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            registry = CollectorRegistry(auto_describe=False)
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            if self.system is not None:
                registry.register(self.system)
        # The classic text format (0.0.4): every Prometheus version reads it.
        return generate_latest(registry), CONTENT_TYPE_PLAIN_0_0_4


class SystemCollector(Collector):
    """Reads ``SystemSnapshot`` from the store at each scrape and turns it into metric
    families. A database that cannot be read gives ``tickwork_store_up 0`` and no other
    system family (the in-process ones are still exposed), never a failed scrape."""

    def __init__(
        self,
        store: Callable[[], object],
        now: Callable[[], datetime],
        *,
        stale_after: timedelta,
    ) -> None:
        self._store, self._now, self.stale_after = store, now, stale_after

    def describe(self) -> Iterable[Metric]:
        # Registering must not touch the database: the families, without samples.
        return [_up(), _read_duration(), *_families(None, self.stale_after)]

    def collect(self) -> Iterable[Metric]:
        started = time.perf_counter()
        up = _up()
        try:
            store = self._store()
            if not isinstance(store, MetricsStore):
                return []
            snapshot = store.metrics_snapshot(self._now())
        except TickworkError as err:
            log.warning("metrics: the database could not be read: %s", err)
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        took = _read_duration()
        took.add_metric([], time.perf_counter() - started)
        return [up, took, *_families(snapshot, self.stale_after)]


def _up() -> GaugeMetricFamily:
    return GaugeMetricFamily(
        "tickwork_store_up", "1 when the database answered this scrape's reads, else 0."
    )


def _read_duration() -> GaugeMetricFamily:
    return GaugeMetricFamily(
        "tickwork_metrics_read_duration_seconds",
        "Time this scrape took to read the system metrics from the database.",
    )


def _families(snap: SystemSnapshot | None, stale_after: timedelta) -> Iterator[Metric]:
    """The system metric families of ``snap`` (empty families when None)."""
    runs = CounterMetricFamily(
        "tickwork_runs",
        "Runs that reached a final state, by schedule and state (pruned runs included).",
        labels=["schedule", "state"],
    )
    unfinished = GaugeMetricFamily(
        "tickwork_runs_unfinished",
        "Runs not in a final state yet, by state (queued, retrying, running).",
        labels=["state"],
    )
    depth = GaugeMetricFamily(
        "tickwork_queue_depth", "Waiting runs (queued or retrying) that are due now."
    )
    schedules = GaugeMetricFamily(
        "tickwork_schedules", "Schedules that are not retired, by status.", labels=["status"]
    )
    last_success = GaugeMetricFamily(
        "tickwork_schedule_last_success_timestamp_seconds",
        "When the schedule's newest succeeded run finished (Unix time).",
        labels=["schedule"],
    )
    overdue = GaugeMetricFamily(
        "tickwork_schedule_overdue",
        "1 when the schedule should have succeeded by now and has not (overdue detection).",
        labels=["schedule"],
    )
    overdue_count = GaugeMetricFamily(
        "tickwork_overdue_schedules", "Schedules that are overdue now."
    )
    workers = GaugeMetricFamily(
        "tickwork_workers",
        "Registered tickwork processes by role, alive (heartbeat within a lease) or stale.",
        labels=["role", "status"],
    )
    heartbeat = GaugeMetricFamily(
        "tickwork_worker_heartbeat_age_seconds",
        "Seconds since the newest heartbeat of any process with the role.",
        labels=["role"],
    )
    if snap is not None:
        for (schedule, state), n in sorted(snap.finished.items()):
            runs.add_metric([schedule, state.value], n)
        for state in (RunState.queued, RunState.retrying, RunState.running):
            unfinished.add_metric([state.value], snap.unfinished.get(state, 0))
        depth.add_metric([], snap.due)
        paused = sum(s.paused for s in snap.schedules)
        schedules.add_metric(["active"], len(snap.schedules) - paused)
        schedules.add_metric(["paused"], paused)
        for status in snap.schedules:
            if status.last_success_at is not None:
                last_success.add_metric([status.name], status.last_success_at.timestamp())
            overdue.add_metric([status.name], 1 if status.overdue_since is not None else 0)
        overdue_count.add_metric([], sum(s.overdue_since is not None for s in snap.schedules))
        for role in ROLES:
            ages = [
                (snap.now - w.heartbeat_at).total_seconds()
                for w in snap.workers
                if role in w.roles.split(",")
            ]
            alive = sum(age <= stale_after.total_seconds() for age in ages)
            workers.add_metric([role, "alive"], alive)
            workers.add_metric([role, "stale"], len(ages) - alive)
            if ages:
                heartbeat.add_metric([role], max(min(ages), 0.0))
    yield from (runs, unfinished, depth, schedules, last_success, overdue, overdue_count)
    yield from (workers, heartbeat)
