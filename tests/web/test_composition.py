"""``tw.router()`` and ``create_app(tw)`` hold every part: /health, /ready, /metrics, the API
under /api/v1 and the dashboard; embedded under a prefix with the engine in the lifespan."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import anyio.to_thread
from fastapi import FastAPI

from tickwork.app import Tickwork
from tickwork.config import Settings
from tickwork.context import TaskContext
from tickwork.testing import FakeClock
from tickwork.tokens import create_token
from tickwork.web import create_app

from .conftest import TestClient


def test_the_standalone_app_serves_every_part_and_its_openapi(
    tw: Tickwork, client: TestClient
) -> None:
    paths = set(client.get("/openapi.json").json()["paths"])
    assert {"/health", "/ready", "/metrics", "/api/v1/schedules"} <= paths
    assert client.get("/docs").status_code == 200
    token, _ = create_token(tw, "reader", "read")
    listed = client.get("/api/v1/schedules", headers={"Authorization": f"Bearer {token}"})
    assert listed.status_code == 200
    assert client.get("/api/v1/schedules").status_code == 401  # the API's own auth
    page = client.get("/", follow_redirects=False)  # the dashboard: to its login
    assert page.status_code == 303
    assert client.get(page.headers["location"]).status_code == 200


def test_the_standalone_app_answers_in_api_threads_threads(
    make_tw: Callable[..., Tickwork], tmp_path: Path
) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'svc.db'}", api_threads=3)
    tw = make_tw(config=settings, database_url=None)

    async def tokens() -> float:
        return anyio.to_thread.current_default_thread_limiter().total_tokens

    with TestClient(create_app(tw)) as http:  # the lifespan runs on the server's loop
        assert http.portal is not None
        assert http.portal.call(tokens) == 3
        assert http.get("/health").status_code == 200


def test_embedded_under_a_prefix_with_the_engine_in_the_lifespan(
    make_tw: Callable[..., Tickwork], tmp_path: Path, clock: FakeClock
) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'svc.db'}", api_auth="none")
    tw = make_tw(config=settings, database_url=None)

    @tw.task(every="1m")
    def cleanup(context: TaskContext) -> None:
        pass

    app = FastAPI(lifespan=tw.lifespan)
    app.include_router(tw.router(), prefix="/tickwork")

    @app.get("/hello")
    def hello() -> dict[str, str]:
        return {"hello": "world"}

    with TestClient(app) as http:
        assert http.get("/hello").json() == {"hello": "world"}
        assert http.get("/tickwork/health").status_code == 200
        deadline = time.monotonic() + 10  # the lifespan's engine thread registers itself
        while http.get("/tickwork/ready").status_code != 200:
            assert time.monotonic() < deadline, http.get("/tickwork/ready").json()
            time.sleep(0.01)
        assert tw.roles == ("scheduler", "worker")
        names = [s["name"] for s in http.get("/tickwork/api/v1/schedules").json()["items"]]
        assert names == ["cleanup"]
        assert http.get("/tickwork/metrics").status_code == 200
        clock.advance(timedelta(minutes=1))
    assert tw.roles == ()  # the lifespan's end stopped and drained the engine


def test_importing_tickwork_does_not_import_the_web_stack() -> None:
    code = (
        "import sys, tickwork, tickwork.app, tickwork.cli.run_cmd;"
        "print(sorted(m for m in ('fastapi', 'uvicorn', 'tickwork.web') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
