"""Strong ETags (the hash of the body), 304 on If-None-Match, Cache-Control on every
response, Server-Timing and the request-duration metric by route template."""

from __future__ import annotations

import hashlib

import pytest

from .conftest import Env, api_schedule, is_problem

GETS = [
    "/api/v1/schedules",
    "/api/v1/schedules/nightly",
    "/api/v1/runs",
    "/api/v1/workers",
    "/api/v1/preview?cron=0+3+*+*+*",
]


@pytest.mark.parametrize("path", GETS)
def test_a_get_has_a_strong_etag_of_its_body_and_revalidates_to_304(env: Env, path: str) -> None:
    first = env.get(path)
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert etag == '"' + hashlib.sha256(first.content).hexdigest()[:32] + '"'
    assert first.headers["cache-control"] == "private, no-cache"
    assert first.headers["vary"] == "Authorization"
    again = env.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert again.headers["cache-control"] == "private, no-cache"
    for listed in (f'"other", {etag}', f"W/{etag}", "*"):
        assert env.get(path, headers={"If-None-Match": listed}).status_code == 304
    assert env.get(path, headers={"If-None-Match": '"stale"'}).status_code == 200


def test_a_change_to_one_schedule_changes_its_etags_and_its_lists_only(env: Env) -> None:
    api_schedule(env, "a")
    api_schedule(env, "b")

    def tags() -> dict[str, str]:
        paths = {
            "a": "/api/v1/schedules/a",
            "b": "/api/v1/schedules/b",
            "list": "/api/v1/schedules",
            "list-of-b": "/api/v1/schedules?prefix=b",
        }
        return {k: env.get(p).headers["etag"] for k, p in paths.items()}

    before = tags()
    assert tags() == before  # stable while nothing changes
    env.post("/api/v1/schedules/a/pause", scope="write")
    after = tags()
    assert after["a"] != before["a"]
    assert after["list"] != before["list"]
    assert after["b"] == before["b"]
    assert after["list-of-b"] == before["list-of-b"]
    env.post("/api/v1/schedules/a/pause", scope="write")  # already paused: no change
    assert tags() == after


def test_a_new_run_changes_the_run_list_etag(env: Env) -> None:
    before = env.get("/api/v1/runs").headers["etag"]
    schedules = env.get("/api/v1/schedules/nightly").headers["etag"]
    env.post("/api/v1/schedules/nightly/trigger", scope="write")
    assert env.get("/api/v1/runs").headers["etag"] != before
    assert env.get("/api/v1/schedules/nightly").headers["etag"] == schedules


def test_mutations_and_errors_are_no_store_without_etag(env: Env) -> None:
    for response in (
        env.post("/api/v1/schedules/nightly/pause", scope="write"),
        env.post("/api/v1/schedules/nightly/trigger", scope="write"),
        env.get("/api/v1/schedules/ghost"),
        env.client.get("/api/v1/schedules"),
    ):
        assert response.headers["cache-control"] == "no-store"
        assert "etag" not in response.headers
    is_problem(env.client.get("/api/v1/runs"), 401)


def test_every_response_has_server_timing_and_is_observed_by_route_template(env: Env) -> None:
    registry = env.tw.metrics.registry

    def count(route: str, status: str, method: str = "GET") -> float:
        labels = {"method": method, "route": route, "status": status}
        value = registry.get_sample_value("tickwork_http_request_duration_seconds_count", labels)
        return value or 0.0

    for path in ("/api/v1/schedules/nightly", "/api/v1/schedules/ghost", "/api/v1/schedules/x"):
        response = env.get(path)
        assert response.headers["server-timing"].startswith("app;dur=")
    assert count("/api/v1/schedules/{name}", "200") == 1
    assert count("/api/v1/schedules/{name}", "404") == 2
    env.client.get("/api/v1/runs")
    assert count("/api/v1/runs", "401") == 1
    etag = env.get("/api/v1/runs").headers["etag"]
    env.get("/api/v1/runs", headers={"If-None-Match": etag})
    assert count("/api/v1/runs", "304") == 1
