"""Fixtures every test directory shares: a fresh PostgreSQL schema (or database) per test.

The server is ``TICKWORK_TEST_POSTGRES_URL`` (default the local one). When it is unreachable
a test that needs it fails if ``TICKWORK_REQUIRE_POSTGRES`` is set (``.ci/run`` sets it) and
is skipped, saying why, otherwise (a machine without PostgreSQL): never a silent skip.

A test must close every connection it opened to its schema: the schema's URL names the
connections (``application_name``), and a test that left one open (a store or ``Tickwork``
never closed) errors at its own teardown. Otherwise the connection is found only when the
garbage collector frees it, a ResourceWarning (an error here) at a random later test.
"""

from __future__ import annotations

import os
import time
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

        def make(prefix: str = "tw_test") -> str:
            try:
                url = made.enter_context(postgres_schema(POSTGRES_URL, prefix=prefix))
            except StoreUnavailableError as exc:
                _unreachable(exc)
                raise
            tag = f"tw_test_{uuid.uuid4().hex[:12]}"
            made.callback(_none_left_open, tag)  # before the schema is dropped
            return (
                make_url(url)
                .update_query_dict({"application_name": tag})
                .render_as_string(hide_password=False)
            )

        yield make


LEFT_OPEN_GRACE = 5.0  # seconds for the server to see closed connections go (a safety net)


def _none_left_open(tag: str) -> None:
    """Fail the test when connections named ``tag`` are still open on the server."""
    import psycopg

    server = make_url(POSTGRES_URL).set(drivername="postgresql")
    with psycopg.connect(server.render_as_string(hide_password=False), autocommit=True) as admin:
        deadline = time.monotonic() + LEFT_OPEN_GRACE
        while True:  # a closed connection's server process may take a moment to exit
            row = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (tag,)
            ).fetchone()
            left = row[0] if row else 0
            if not left or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        if left:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = %s",
                (tag,),
            )
            pytest.fail(
                f"{left} PostgreSQL connection(s) still open after the test: close every "
                "store and Tickwork it opened (tw.close(), store.close(), a with block)",
                pytrace=False,
            )


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
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        admin.close()
