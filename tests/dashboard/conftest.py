"""A tickwork app with some history, and clients of a FastAPI app that includes the
dashboard at the root or under a prefix."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from starlette.exceptions import StarletteDeprecationWarning

# Starlette 1.x warns, on import, that its TestClient wants httpx2 instead of the pinned
# httpx; the client works with httpx, and requirements are not ours to change.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

from tickwork.app import Tickwork
from tickwork.config import load_config
from tickwork.testing import FakeClock, run_until_idle
from tickwork.tokens import create_token
from tickwork.web.api import build_api_router
from tickwork.web.dashboard import build_dashboard_router

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday

CONFIG = """
[tickwork]
database_url = "sqlite:///{db}"

[[schedule]]
name = "hello"
cron = "*/5 * * * *"
tz = "Europe/Berlin"
command = "echo hello"

[[schedule]]
name = "broken"
every = "1h"
command = "echo oops >&2; exit 3"

[[schedule]]
name = "hostile"
cron = "0 3 * * *"
command = '''echo '<script>alert("out")</script>'; echo '<img src=x onerror=alert(2)>'; exit 1'''
"""


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "tickwork.toml"
    path.write_text(CONFIG.format(db=tmp_path / "tw.db"))
    return path


@pytest.fixture
def tw(config: Path, clock: FakeClock) -> Iterator[Tickwork]:
    """Ten minutes of fake time: hello succeeded twice; broken and hostile failed once;
    report (a code task that takes 3 to 12 s of fake time) ran 8 times by hand."""
    app = Tickwork(config=load_config(config), clock=clock, worker_id="test-worker")
    durations = iter([3, 5, 4, 8, 6, 12, 7, 9])

    @app.task(name="report", cron="0 6 * * 1-5", tz="America/New_York")
    def report(context: object) -> None:
        clock.advance(timedelta(seconds=next(durations, 5)))

    app.sync()
    app.register("scheduler,worker")
    app.trigger("broken")
    app.trigger("hostile")
    for _ in range(8):
        app.trigger("report")
        run_until_idle(app)
    for _ in range(2):
        clock.advance(timedelta(minutes=5))
        run_until_idle(app)
    yield app
    app.close()


@pytest.fixture
def open_tw(tw: Tickwork) -> Tickwork:
    """The same app with ``api_auth = "none"`` (local development: no login)."""
    tw.settings = replace(tw.settings, api_auth="none")
    return tw


@pytest.fixture
def tokens(tw: Tickwork) -> dict[str, str]:
    return {scope: create_token(tw, f"{scope}-user", scope)[0] for scope in ("read", "write")}


MakeClient = Callable[..., TestClient]


@pytest.fixture
def make_client(tw: Tickwork) -> Iterator[MakeClient]:
    """``make_client(prefix="", token=None)``: a client of an app with the dashboard under
    ``prefix``, logged in with ``token`` when given."""
    made: list[TestClient] = []

    def make(prefix: str = "", token: str | None = None) -> TestClient:
        app = FastAPI()
        app.include_router(build_dashboard_router(tw), prefix=prefix)
        app.include_router(build_api_router(tw), prefix=prefix)  # side by side, as served
        client = TestClient(app, base_url="http://testserver", follow_redirects=False)
        made.append(client)
        if token is not None:
            response = client.post(f"{prefix}/login", data={"token": token})
            assert response.status_code == 303, response.text
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def writer(make_client: MakeClient, tokens: dict[str, str]) -> TestClient:
    return make_client(token=tokens["write"])


@pytest.fixture
def reader(make_client: MakeClient, tokens: dict[str, str]) -> TestClient:
    return make_client(token=tokens["read"])
