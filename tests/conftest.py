"""Fixtures every test directory shares: a fresh PostgreSQL schema per test.

The server is ``TICKWORK_TEST_POSTGRES_URL`` (default the local one). When it is unreachable
a test that needs it fails if ``TICKWORK_REQUIRE_POSTGRES`` is set (``.ci/run`` sets it) and
is skipped, saying why, otherwise (a machine without PostgreSQL): never a silent skip.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest

from tickwork.errors import StoreUnavailableError
from tickwork.testing import postgres_schema

POSTGRES_URL = os.environ.get(
    "TICKWORK_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("TICKWORK_REQUIRE_POSTGRES", "") not in ("", "0")


@pytest.fixture
def new_postgres_schema() -> Iterator[Callable[..., str]]:
    """Call it for the URL of a new empty schema (``prefix`` names it); every schema made
    is dropped after the test."""
    with ExitStack() as made:

        def make(prefix: str = "tw_test") -> str:
            try:
                return made.enter_context(postgres_schema(POSTGRES_URL, prefix=prefix))
            except StoreUnavailableError as exc:
                if REQUIRE_POSTGRES:
                    pytest.fail(f"TICKWORK_REQUIRE_POSTGRES is set: {exc}", pytrace=False)
                pytest.skip(str(exc))

        yield make


@pytest.fixture
def postgres_url(new_postgres_schema: Callable[..., str]) -> str:
    """The URL of a new empty schema on the test server (dropped after the test)."""
    return new_postgres_schema()
