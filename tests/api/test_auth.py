"""Every /api route needs a token with its scope: none -> 401, too weak -> 403, revoked ->
401, enough -> the route answers. Scopes nest: admin ⊇ write ⊇ read."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute

from tickwork.tokens import revoke_token
from tickwork.web.api import build_api_router

from .conftest import Env, api_schedule, is_problem, snapshot

SCHEDULE = {"name": "made", "every": "1h", "task": "nightly"}
# (method, path, scope, json body)
ROUTES: list[tuple[str, str, str, Any]] = [
    ("GET", "/api/v1/preview?cron=0+3+*+*+*", "read", None),
    ("GET", "/api/v1/schedules", "read", None),
    ("GET", "/api/v1/schedules/nightly", "read", None),
    ("GET", "/api/v1/runs", "read", None),
    ("GET", "/api/v1/runs/{run}", "read", None),
    ("GET", "/api/v1/workers", "read", None),
    ("POST", "/api/v1/schedules/nightly/pause", "write", None),
    ("POST", "/api/v1/schedules/nightly/resume", "write", None),
    ("POST", "/api/v1/schedules/nightly/trigger", "write", None),
    ("POST", "/api/v1/runs/{run}/cancel", "write", None),
    ("POST", "/api/v1/runs/{run}/retry", "write", None),
    ("POST", "/api/v1/schedules", "admin", SCHEDULE),
    ("PUT", "/api/v1/schedules/reminder", "admin", {**SCHEDULE, "name": "reminder"}),
    ("DELETE", "/api/v1/schedules/reminder", "admin", None),
]
WEAKER = {"read": [], "write": ["read"], "admin": ["read", "write"]}
IDS = [f"{m} {p.split('?')[0]}" for m, p, _, _ in ROUTES]


@pytest.fixture
def ready(env: Env) -> Callable[[str], str]:
    """A run to address and an API schedule to change; paths with the run's id."""
    run = env.tw.trigger("nightly")
    api_schedule(env)
    return lambda path: path.replace("{run}", str(run.id))


def call(env: Env, method: str, path: str, headers: dict[str, str], body: Any) -> Any:
    return env.client.request(method, path, headers=headers, json=body)


def test_the_table_covers_every_route(env: Env) -> None:
    app_routes = {
        (m, r.path_format)
        for r in build_api_router(env.tw).routes
        if isinstance(r, APIRoute)
        for m in r.methods
    }
    table = {(m, p.split("?")[0].replace("{run}", "{run_id}")) for m, p, _, _ in ROUTES}
    normalised = {
        (m, p.replace("/nightly", "/{name}").replace("/reminder", "/{name}")) for m, p in table
    }
    assert normalised == app_routes


@pytest.mark.parametrize(("method", "path", "scope", "body"), ROUTES, ids=IDS)
def test_no_token_is_401_and_changes_nothing(
    env: Env, ready: Callable[[str], str], method: str, path: str, scope: str, body: Any
) -> None:
    before = snapshot(env.tw)
    for headers in ({}, {"Authorization": "Bearer tw_wrong"}, {"Authorization": "Basic eDp5"}):
        response = call(env, method, ready(path), headers, body)
        doc = is_problem(response, 401)
        assert "token" in doc["detail"]
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert snapshot(env.tw) == before


@pytest.mark.parametrize(("method", "path", "scope", "body"), ROUTES, ids=IDS)
def test_a_weaker_scope_is_403_and_changes_nothing(
    env: Env, ready: Callable[[str], str], method: str, path: str, scope: str, body: Any
) -> None:
    before = snapshot(env.tw)
    for weaker in WEAKER[scope]:
        response = call(env, method, ready(path), env.auth(weaker), body)
        doc = is_problem(response, 403)
        assert repr(scope) in doc["detail"]
    assert snapshot(env.tw) == before


@pytest.mark.parametrize(("method", "path", "scope", "body"), ROUTES, ids=IDS)
def test_the_scope_or_a_stronger_one_is_let_in(
    env: Env, ready: Callable[[str], str], method: str, path: str, scope: str, body: Any
) -> None:
    response = call(env, method, ready(path), env.auth(scope), body)
    assert response.status_code < 400 or response.status_code == 409, response.text
    if scope != "admin":
        response = call(env, method, ready(path), env.auth("admin"), body)
        assert response.status_code not in (401, 403), response.text


def test_a_revoked_token_is_refused_from_then_on(env: Env) -> None:
    assert env.get("/api/v1/schedules").status_code == 200
    revoke_token(env.tw, "read-token")
    is_problem(env.get("/api/v1/schedules"), 401)


def test_local_mode_without_tokens_is_explicit_and_warns(
    make: Callable[..., Iterator[Env]], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="tickwork.api"):
        opened = make(api_auth="none")
        local = next(opened)
    try:
        assert any("api_auth = 'none'" in r.getMessage() for r in caplog.records)
        assert local.client.get("/api/v1/schedules").status_code == 200
        created = local.client.post("/api/v1/schedules", json=SCHEDULE)
        assert created.status_code == 201
    finally:
        opened.close()
