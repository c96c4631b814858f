"""A database that cannot be reached is a 503 problem, retryable, with Retry-After; the
token check included (an unreachable database is not a bad token)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from fastapi import FastAPI

from tickwork.app import Tickwork
from tickwork.web.api import build_api_router

from .conftest import TestClient, is_problem

REFUSED = "postgresql://postgres@127.0.0.1:9/nothing?connect_timeout=2"  # discard port: closed


@pytest.mark.parametrize("auth", ["token", "none"])
def test_an_unreachable_database_is_503_retryable_with_retry_after(
    auth: str, caplog: pytest.LogCaptureFixture
) -> None:
    tw = Tickwork(database_url=REFUSED)
    tw.settings = replace(tw.settings, api_auth=auth)
    app = FastAPI()
    app.include_router(build_api_router(tw))
    client = TestClient(app)
    headers = {"Authorization": "Bearer tw_anything"}
    for response in (
        client.get("/api/v1/schedules", headers=headers),
        client.post("/api/v1/schedules/x/trigger", headers=headers),
    ):
        doc = is_problem(response, 503)
        assert doc["retryable"] is True
        assert response.headers["retry-after"] == "5"
        assert "retrying later can help" in doc["detail"]
        assert "127.0.0.1" not in response.text  # where the database is stays private
        assert "nothing" not in response.text
    assert any("127.0.0.1" in r.getMessage() for r in caplog.records)  # but logged
