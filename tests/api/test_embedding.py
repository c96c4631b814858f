"""The router works inside a user's app, under a prefix, with none of the app's own error
handling: problems, caching headers and the metric come from the routes themselves."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

from tickwork.web.api import build_api_router

from .conftest import Env, TestClient, is_problem


def test_under_a_prefix_in_an_app_with_its_own_handlers(env: Env) -> None:
    app = FastAPI()

    @app.exception_handler(Exception)
    async def plain(request: object, exc: Exception) -> PlainTextResponse:  # the user's own
        return PlainTextResponse("user handler", status_code=500)

    app.include_router(build_api_router(env.tw), prefix="/tickwork")
    client = TestClient(app)
    auth = env.auth("read")
    ok = client.get("/tickwork/api/v1/schedules/nightly", headers=auth)
    assert ok.status_code == 200
    assert ok.headers["cache-control"] == "private, no-cache"
    assert (
        client.get(
            "/tickwork/api/v1/schedules/nightly",
            headers={**auth, "If-None-Match": ok.headers["etag"]},
        ).status_code
        == 304
    )
    is_problem(client.get("/tickwork/api/v1/schedules/ghost", headers=auth), 404, "name")
    is_problem(client.get("/tickwork/api/v1/runs?limit=0", headers=auth), 422, "limit")
    is_problem(client.get("/tickwork/api/v1/runs"), 401)
    samples = {
        (s.labels["route"], s.labels["status"])
        for metric in env.tw.metrics.registry.collect()
        for s in metric.samples
        if s.name.endswith("_count")
    }
    # The route template as the router names it, whatever prefix the app adds.
    assert ("/api/v1/schedules/{name}", "404") in samples
