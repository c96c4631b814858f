"""Prometheus metrics of one ``Tickwork`` app, in a registry of its own.

One registry per app (not prometheus-client's global one), so that several apps in one
process (tests, a service embedding two) never collide. ``/metrics`` exposes
``Tickwork.metrics.registry``. Names follow Prometheus conventions: ``tickwork_`` prefix,
base units (seconds), ``_total`` for counters; labels stay bounded (route templates, never
raw paths; schedule names, never run ids).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

__all__ = ["HTTP_BUCKETS", "Metrics"]

HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The app's metric objects. Observing is cheap and thread-safe; nothing here does I/O."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
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
