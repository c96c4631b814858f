"""An app with config, code and API schedules, tokens of each scope and a client, on
SQLite and on PostgreSQL; a snapshot of everything stored, to show a refused request
changed nothing."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from starlette.exceptions import StarletteDeprecationWarning

from tickwork.app import Tickwork
from tickwork.context import TaskContext
from tickwork.store.base import RunFilter
from tickwork.store.schema import idempotency_keys, tokens
from tickwork.store.sql import SQLStore
from tickwork.testing import FakeClock
from tickwork.tokens import create_token
from tickwork.web.api import build_api_router

with warnings.catch_warnings():
    # starlette's test client asks for the httpx2 fork; the pinned httpx works.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)

CONFIG = """
[tickwork]
database_url = "{url}"

[[schedule]]
name = "from-config"
cron = "*/5 * * * *"
command = "echo hello"
"""


@dataclass
class Env:
    tw: Tickwork
    clock: FakeClock
    client: TestClient
    app: FastAPI
    tokens: dict[str, str]  # scope -> bearer token

    def auth(self, scope: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[scope]}"}

    def get(self, path: str, scope: str = "read", **kw: Any) -> Any:
        headers = {**self.auth(scope), **kw.pop("headers", {})}
        return self.client.get(path, headers=headers, **kw)

    def post(self, path: str, scope: str = "admin", **kw: Any) -> Any:
        headers = {**self.auth(scope), **kw.pop("headers", {})}
        return self.client.post(path, headers=headers, **kw)

    def put(self, path: str, scope: str = "admin", **kw: Any) -> Any:
        headers = {**self.auth(scope), **kw.pop("headers", {})}
        return self.client.put(path, headers=headers, **kw)

    def delete(self, path: str, scope: str = "admin", **kw: Any) -> Any:
        headers = {**self.auth(scope), **kw.pop("headers", {})}
        return self.client.delete(path, headers=headers, **kw)


def nightly(context: TaskContext) -> None:
    """A registered task: API schedules may run it."""


def failing(context: TaskContext) -> None:
    raise RuntimeError("boom")


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tw.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


def make_env(url: str, tmp_path: Path, **settings: Any) -> Iterator[Env]:
    config = tmp_path / "tickwork.toml"
    config.write_text(CONFIG.format(url=url))
    clock = FakeClock(T0)
    tw = Tickwork(config=config, clock=clock, worker_id="test-worker")
    try:  # closed also when the test closes the generator early (``GeneratorExit``)
        tw.settings = replace(tw.settings, **settings)
        tw.task(nightly, name="nightly", cron="0 3 * * *", tz="Europe/Berlin")
        tw.task(failing, name="failing", every="1d")
        tw.sync()
        scoped = {
            scope: create_token(tw, f"{scope}-token", scope)[0]
            for scope in ("read", "write", "admin")
        }
        app = FastAPI()
        app.include_router(build_api_router(tw))
        with TestClient(app) as client:
            yield Env(tw, clock, client, app, scoped)
    finally:
        tw.close()


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> Iterator[Env]:
    yield from make_env(database_url, tmp_path)


@pytest.fixture
def make(database_url: str, tmp_path: Path) -> Callable[..., Iterator[Env]]:
    """``make(api_commands=True)``: an env with other settings."""
    return lambda **settings: make_env(database_url, tmp_path, **settings)


def snapshot(tw: Tickwork) -> dict[str, Any]:
    """Everything stored that a request could change (tokens' last use aside)."""
    store = tw.store
    assert isinstance(store, SQLStore)
    with store._transaction("snapshot", write=False) as conn:
        keys = sorted(map(tuple, conn.execute(select(idempotency_keys)).all()))
        held = sorted(
            (r.name, r.token_hash, r.scopes, r.revoked_at)
            for r in conn.execute(select(tokens)).all()
        )
    runs = store.list_runs(RunFilter(limit=100_000))
    return {
        "schedules": store.list_schedules(include_retired=True),
        "runs": runs,
        "events": [store.run_events(r.id) for r in runs],
        "keys": keys,
        "tokens": held,
    }


def api_schedule(env: Env, name: str = "reminder", **table: Any) -> dict[str, Any]:
    body = {"name": name, "every": "1h", "task": "nightly", **table}
    response = env.post("/api/v1/schedules", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def is_problem(response: Any, status: int, *fields: str) -> dict[str, Any]:
    """``response`` is a problem document of ``status`` whose errors name ``fields``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["cache-control"] == "no-store"
    doc: dict[str, Any] = response.json()
    assert doc["status"] == status
    assert doc["type"].startswith("urn:tickwork:problem:")
    assert doc["detail"]
    assert isinstance(doc["retryable"], bool)
    named = [e["field"] for e in doc["errors"]]
    for field in fields:
        assert field in named, doc
    for error in doc["errors"]:
        assert set(error) == {"field", "message", "expected", "got"}
        assert error["expected"]
    return doc
