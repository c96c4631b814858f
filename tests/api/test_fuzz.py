"""Schemathesis fuzzes every operation of the API's OpenAPI document (valid and invalid
inputs): never a 5xx, and every error is an ``application/problem+json`` document with the
fields the API promises. Bounded (``MAX_EXAMPLES`` per operation), SQLite only."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from tickwork.app import Tickwork
from tickwork.testing import FakeClock
from tickwork.tokens import create_token
from tickwork.web.api import build_api_router

from .conftest import T0, nightly

MAX_EXAMPLES = 25
_token: dict[str, str] = {}


@pytest.fixture
def api_app(tmp_path: Path) -> Iterator[FastAPI]:
    tw = Tickwork(database_url=f"sqlite:///{tmp_path / 'tw.db'}", clock=FakeClock(T0))
    tw.task(nightly, name="nightly", cron="0 3 * * *")
    tw.sync()
    tw.trigger("nightly")
    _token["admin"] = create_token(tw, "fuzz", "admin")[0]
    app = FastAPI()
    app.include_router(build_api_router(tw))
    yield app
    tw.close()


@pytest.fixture
def api_schema(api_app: FastAPI) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return schemathesis.openapi.from_asgi("/openapi.json", api_app)


# schemathesis' own pytest plugin does not run on pytest 9 (it reads a private attribute of
# the test item), so each operation is driven by hypothesis here, with its strategies.
OPERATIONS = sorted(
    (method, route.path)
    for route in build_api_router(Tickwork(database_url="sqlite://")).routes
    if isinstance(route, APIRoute)
    for method in route.methods
)


def errors_are_problem_documents(ctx: Any, response: Any, case: Any) -> bool | None:
    if response.status_code < 400:
        return None
    media = response.headers.get("content-type", [""])
    media = media[0] if isinstance(media, list) else media
    assert media == "application/problem+json", f"{response.status_code} as {media}"
    doc = json.loads(response.content)
    assert doc["status"] == response.status_code
    assert {"type", "title", "detail", "retryable", "errors"} <= set(doc)
    for error in doc["errors"]:
        assert set(error) == {"field", "message", "expected", "got"}
    return True


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_operation_fails_or_answers_an_error_that_is_not_a_problem(
    api_schema: Any, method: str, path: str, mode: GenerationMode
) -> None:
    operation = api_schema[path][method]
    headers = {"Authorization": f"Bearer {_token['admin']}"}

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def fuzz(case: Any) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the transport's own deprecation notices
            response = case.call(headers=headers)
        case.validate_response(response, checks=[not_a_server_error, errors_are_problem_documents])

    fuzz()
