"""Every route is observed in ``tickwork_http_request_duration_seconds``, labelled by its
template inside tickwork's router (bounded: ``/runs/{id}``, never one label per run; the
same labels under any prefix)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI

from tickwork.app import Tickwork
from tickwork.config import Settings

from .conftest import TestClient

FAMILY = "tickwork_http_request_duration_seconds_count"


def observed(tw: Tickwork, method: str, route: str, status: str) -> float:
    labels = {"method": method, "route": route, "status": status}
    return tw.metrics.registry.get_sample_value(FAMILY, labels) or 0.0


def test_health_ready_metrics_and_dashboard_pages_are_observed_by_template(
    make_tw: Callable[..., Tickwork], tmp_path: Path
) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'obs.db'}", api_auth="none")
    tw = make_tw(config=settings, database_url=None)
    tw.add_schedule(name="nightly", cron="0 3 * * *", command="true")
    tw.sync()
    app = FastAPI()
    app.include_router(tw.router(), prefix="/tw")
    with TestClient(app) as http:
        for path in ("/tw/health", "/tw/ready", "/tw/metrics", "/tw/", "/tw/schedules"):
            assert http.get(path).status_code == 200, path
        assert http.get("/tw/schedules/nightly").status_code == 200
        assert http.get("/tw/schedules/nope").status_code == 404
        for run_id in (17, 18):
            assert http.get(f"/tw/runs/{run_id}").status_code == 404
        assert http.get("/tw/api/v1/schedules").status_code == 200

    # Labelled by the template inside tickwork's router (the same under any prefix).
    for route in ("/health", "/ready", "/", "/schedules", "/api/v1/schedules"):
        assert observed(tw, "GET", route, "200") == 1, route
    # /metrics is observed after it answered: its own scrape is in the next one.
    assert observed(tw, "GET", "/metrics", "200") == 1
    assert observed(tw, "GET", "/schedules/{name}", "200") == 1
    assert observed(tw, "GET", "/schedules/{name}", "404") == 1
    assert observed(tw, "GET", "/runs/{id}", "404") == 2  # one label for every run id
    routes = {
        s.labels["route"]
        for family in tw.metrics.registry.collect()
        if family.name == "tickwork_http_request_duration_seconds"
        for s in family.samples
    }
    assert not any("17" in r or "18" in r or "nightly" in r for r in routes), routes
