"""/metrics: the exposition parses with prometheus-client's own parser, every family is named
as docs/metrics.md says, and the values are right after runs on the fake clock."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from tickwork.app import Tickwork
from tickwork.config import Settings
from tickwork.context import TaskContext
from tickwork.metrics import METRIC_NAMES, OTHER_SCHEDULE
from tickwork.testing import FakeClock, run_until_idle
from tickwork.tokens import create_token
from tickwork.web import create_app

from .conftest import T0, TestClient

NAME = re.compile(r"^tickwork_[a-z][a-z0-9_]*$")
UNITS = ("_seconds", "_timestamp_seconds")


def scrape(client: TestClient, **headers: str) -> dict[str, list[Sample]]:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    return {name: family.samples for name, family in families.items()}


def value(samples: dict[str, list[Sample]], family: str, sample: str, **labels: str) -> float:
    found = [s.value for s in samples[family] if s.name == sample and s.labels == labels]
    assert len(found) == 1, (sample, labels, samples[family])
    return found[0]


def define(tw: Tickwork) -> None:
    @tw.task(name="ok", every="1m")
    def ok(context: TaskContext) -> None:
        pass

    @tw.task(name="broken", every="1m")
    def broken(context: TaskContext) -> None:
        raise RuntimeError("boom")


def test_every_family_is_named_and_typed_as_documented(
    tw: Tickwork, clock: FakeClock, client: TestClient
) -> None:
    define(tw)
    tw.sync()
    tw.register("scheduler,worker")
    clock.advance(timedelta(minutes=1))
    run_until_idle(tw)
    response = client.get("/metrics")
    # prometheus-client adds a <histogram>_created gauge beside each histogram.
    families = [
        f for f in text_string_to_metric_families(response.text) if not f.name.endswith("_created")
    ]
    typed = {f.name: f.type for f in families}
    assert typed == METRIC_NAMES
    for family in families:
        assert NAME.match(family.name), family.name
        assert family.documentation, family.name
        if family.type == "counter":
            assert all(s.name.startswith(f"{family.name}_") for s in family.samples)
        if family.type == "histogram" or "duration" in family.name or "age" in family.name:
            assert family.name.endswith(UNITS), family.name
        for sample in family.samples:  # bounded labels only: never a run id or a worker id
            assert set(sample.labels) <= {"schedule", "state", "role", "status", "method"} | {
                "route",
                "le",
            }, sample


def test_values_after_runs_on_the_fake_clock(
    tw: Tickwork, clock: FakeClock, client: TestClient
) -> None:
    define(tw)
    tw.sync()  # at 12:00; both fire every minute from 12:01
    tw.register("scheduler,worker")
    for _ in range(3):
        clock.advance(timedelta(minutes=1))
        run_until_idle(tw)
    clock.advance(timedelta(seconds=20))
    m = scrape(client)
    assert value(m, "tickwork_runs", "tickwork_runs_total", schedule="ok", state="succeeded") == 3
    assert value(m, "tickwork_runs", "tickwork_runs_total", schedule="broken", state="failed") == 3
    assert value(m, "tickwork_store_up", "tickwork_store_up") == 1
    assert value(m, "tickwork_queue_depth", "tickwork_queue_depth") == 0
    assert value(m, "tickwork_runs_unfinished", "tickwork_runs_unfinished", state="running") == 0
    duration = "tickwork_run_duration_seconds"
    assert value(m, duration, f"{duration}_count", schedule="ok", state="succeeded") == 3
    assert value(m, duration, f"{duration}_count", schedule="broken", state="failed") == 3
    lag = "tickwork_run_lag_seconds"
    # Each fire ran at its nominal instant on the fake clock: lag exactly 0.
    assert value(m, lag, f"{lag}_count", schedule="ok") == 3
    assert value(m, lag, f"{lag}_sum", schedule="ok") == 0
    last = "tickwork_schedule_last_success_timestamp_seconds"
    assert value(m, last, last, schedule="ok") == (T0 + timedelta(minutes=3)).timestamp()
    assert not [s for s in m[last] if s.labels == {"schedule": "broken"}]
    assert value(m, "tickwork_schedules", "tickwork_schedules", status="active") == 2
    # "broken" has failed every fire since 12:01: overdue once its 1-minute grace passed
    # (the monitor's rule, docs/operations.md); "ok" succeeded on time.
    assert value(m, "tickwork_overdue_schedules", "tickwork_overdue_schedules") == 1
    assert value(m, "tickwork_schedule_overdue", "tickwork_schedule_overdue", schedule="ok") == 0
    overdue = "tickwork_schedule_overdue"
    assert value(m, overdue, overdue, schedule="broken") == 1
    # Heartbeat written at 12:03 (the last run_until_idle), scraped at 12:03:20.
    age = "tickwork_worker_heartbeat_age_seconds"
    assert value(m, age, age, role="scheduler") == 20
    assert value(m, "tickwork_workers", "tickwork_workers", role="worker", status="alive") == 1
    clock.advance(timedelta(minutes=1))  # no loop ran: older than a lease (30 s) is stale
    m = scrape(client)
    assert value(m, "tickwork_workers", "tickwork_workers", role="worker", status="stale") == 1
    assert value(m, "tickwork_workers", "tickwork_workers", role="worker", status="alive") == 0


def test_per_schedule_series_stop_at_metrics_schedules_the_rest_share_other(
    make_tw: Callable[..., Tickwork], clock: FakeClock
) -> None:
    tw = make_tw(config=Settings(metrics_schedules=1))
    define(tw)
    tw.sync()
    tw.register("scheduler,worker")
    for _ in range(2):
        clock.advance(timedelta(minutes=1))
        run_until_idle(tw)
    with TestClient(create_app(tw)) as http:
        m = scrape(http)
    duration, lag = "tickwork_run_duration_seconds", "tickwork_run_lag_seconds"
    named = {s.labels["schedule"] for s in m[lag] if s.name == f"{lag}_count"}
    assert len(named) == 2  # one of ok/broken, then "_other"
    assert OTHER_SCHEDULE in named
    assert sum(s.value for s in m[lag] if s.name == f"{lag}_count") == 4  # none dropped
    assert sum(s.value for s in m[duration] if s.name == f"{duration}_count") == 4
    # The database-side families are not capped: every schedule keeps its own.
    assert value(m, "tickwork_runs", "tickwork_runs_total", schedule="ok", state="succeeded") == 2
    assert value(m, "tickwork_runs", "tickwork_runs_total", schedule="broken", state="failed") == 2


def test_lag_and_queue_depth_when_no_worker_keeps_up(
    make_tw: Callable[..., Tickwork], clock: FakeClock
) -> None:
    scheduler = make_tw()
    define(scheduler)
    scheduler.engine(worker=False)
    scheduler.sync()
    clock.advance(timedelta(minutes=1))
    run_until_idle(scheduler)  # two runs queued at 12:01, nobody to claim them
    with TestClient(create_app(scheduler)) as http:
        m = scrape(http)
        assert value(m, "tickwork_queue_depth", "tickwork_queue_depth") == 2
        assert value(m, "tickwork_runs_unfinished", "tickwork_runs_unfinished", state="queued") == 2
    worker = make_tw()
    define(worker)
    worker.engine(scheduler=False)
    clock.advance(timedelta(seconds=45))
    run_until_idle(worker)
    with TestClient(create_app(worker)) as http:
        m = scrape(http)
    lag = "tickwork_run_lag_seconds"
    assert value(m, lag, f"{lag}_sum", schedule="ok") == 45
    assert value(m, lag, f"{lag}_bucket", schedule="ok", le="30.0") == 0
    assert value(m, lag, f"{lag}_bucket", schedule="ok", le="60.0") == 1


def test_a_database_that_cannot_be_read_gives_store_up_0_not_a_failed_scrape(
    make_tw: Callable[..., Tickwork], tmp_path: Path
) -> None:
    tw = make_tw(database_url=f"sqlite:///{tmp_path}/missing/dir/tw.db")
    with TestClient(create_app(tw)) as http:
        m = scrape(http)
    assert value(m, "tickwork_store_up", "tickwork_store_up") == 0
    assert "tickwork_runs" not in m
    assert "tickwork_http_request_duration_seconds" in m  # the in-process families stay


@pytest.mark.parametrize("api_auth", ["token", "none"])
def test_metrics_auth_asks_for_a_read_token(
    make_tw: Callable[..., Tickwork], tmp_path: Path, api_auth: str
) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'tw.db'}", metrics_auth=True, api_auth=api_auth
    )
    tw = make_tw(config=settings, database_url=None)
    token, _ = create_token(tw, "prometheus", "read")
    with TestClient(create_app(tw)) as http:
        bare = http.get("/metrics")
        wrong = http.get("/metrics", headers={"Authorization": "Bearer tw_not-a-token"})
        good = http.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        health = http.get("/health")
    assert good.status_code == 200
    assert health.status_code == 200
    if api_auth == "none":  # local development: no checks anywhere
        assert bare.status_code == wrong.status_code == 200
        return
    for refused in (bare, wrong):
        assert refused.status_code == 401
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert refused.json()["status"] == 401
        assert "read scope" in refused.json()["detail"]
