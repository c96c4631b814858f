"""Fixtures every test directory shares: a fresh PostgreSQL schema (or database) per test.

The server is ``TICKWORK_TEST_POSTGRES_URL`` (default the local one). When it is unreachable
a test that needs it fails if ``TICKWORK_REQUIRE_POSTGRES`` is set (``.ci/run`` sets it) and
is skipped, saying why, otherwise (a machine without PostgreSQL): never a silent skip.

Each PostgreSQL test ends with a garbage collection: a psycopg connection it left open (a
store never closed, a pool reopened after ``close``) warns then, an error under
``filterwarnings = error`` at that test's teardown, instead of at a random later test
whenever the collector happens to run.
"""

from __future__ import annotations

import gc
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest
from sqlalchemy.engine import make_url

from tickwork.errors import StoreUnavailableError
from tickwork.testing import postgres_schema

POSTGRES_URL = os.environ.get(
    "TICKWORK_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("TICKWORK_REQUIRE_POSTGRES", "") not in ("", "0")


def _unreachable(exc: StoreUnavailableError) -> None:
    if REQUIRE_POSTGRES:
        pytest.fail(f"TICKWORK_REQUIRE_POSTGRES is set: {exc}", pytrace=False)
    pytest.skip(str(exc))


@pytest.fixture
def new_postgres_schema() -> Iterator[Callable[..., str]]:
    """Call it for the URL of a new empty schema (``prefix`` names it); every schema made
    is dropped after the test."""
    with ExitStack() as made:
        made.callback(gc.collect)  # last: after the test's stores and apps were closed

        def make(prefix: str = "tw_test") -> str:
            try:
                return made.enter_context(postgres_schema(POSTGRES_URL, prefix=prefix))
            except StoreUnavailableError as exc:
                _unreachable(exc)
                raise

        yield make


@pytest.fixture
def postgres_url(new_postgres_schema: Callable[..., str]) -> str:
    """The URL of a new empty schema on the test server (dropped after the test)."""
    return new_postgres_schema()


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """The ``postgresql://`` URL of a new database on the test server, dropped (its
    connections ended) after the test: for tests that take the database down."""
    import psycopg

    server = make_url(POSTGRES_URL).set(drivername="postgresql")
    name = f"tw_e2e_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(
            server.render_as_string(hide_password=False), autocommit=True, connect_timeout=5
        )
    except psycopg.Error as exc:
        shown = server.render_as_string(hide_password=True)
        _unreachable(StoreUnavailableError(f"PostgreSQL not reachable at {shown}: {exc}"))
        raise
    try:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            gc.collect()  # a connection the test left open warns now, on this test
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        admin.close()
