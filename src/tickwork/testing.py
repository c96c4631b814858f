"""Helpers for testing code that uses tickwork: a fake clock and a way to run the engine
until it has nothing left to do, without sleeping.

    clock = FakeClock(datetime(2026, 3, 29, 0, 0, tzinfo=UTC))
    tw = Tickwork(database_url=f"sqlite:///{tmp_path}/tw.db", clock=clock)
    ...
    clock.advance(timedelta(hours=3))
    run_until_idle(tw)
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from tickwork.app import Tickwork
from tickwork.clock import FakeClock
from tickwork.errors import StoreUnavailableError

__all__ = ["FakeClock", "postgres_schema", "run_until_idle"]


def run_until_idle(tw: Tickwork, *, timeout: float = 10.0, max_rounds: int = 10_000) -> int:
    """Step the engine at the clock's current instant until no run is enqueued, claimed,
    reclaimed or in flight. Returns the number of steps that did work. ``timeout`` (real
    seconds per wait for running tasks) is only a safety net."""
    engine = tw.engine()
    for rounds in range(max_rounds):
        done = engine.run_once(tw.clock.now())
        worker = engine.worker
        busy = worker is not None and worker.in_flight() > 0
        if busy:
            assert worker is not None
            if not worker.wait_idle(timeout):
                raise TimeoutError(f"tasks still running after {timeout}s")
        if not done and not busy:
            return rounds
    raise RuntimeError(f"engine still busy after {max_rounds} rounds")


@contextmanager
def postgres_schema(url: str, *, prefix: str = "tw_test") -> Iterator[str]:
    """A new, empty schema on the PostgreSQL server at ``url`` for one test, dropped with
    everything in it afterwards. Yields ``url`` with ``search_path`` set to that schema
    (``?options=-csearch_path%3D<schema>``), for ``Tickwork(database_url=...)``, a config
    file or ``open_store``. Raises ``StoreUnavailableError`` when the server cannot be
    reached (the message names the server, never the password)."""
    import psycopg
    from sqlalchemy.engine import make_url

    from tickwork.store.postgres import postgres_url

    given = make_url(url)
    server = postgres_url(url).set(drivername="postgresql")
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    options = " ".join(
        filter(None, [str(given.query.get("options", "")), f"-csearch_path={schema}"])
    )
    try:
        admin = psycopg.connect(
            server.render_as_string(hide_password=False), autocommit=True, connect_timeout=5
        )
    except psycopg.Error as exc:
        shown = server.render_as_string(hide_password=True)
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StoreUnavailableError(f"PostgreSQL not reachable at {shown}: {reason}") from exc
    try:
        admin.execute(f'CREATE SCHEMA "{schema}"')
        try:
            yield given.update_query_dict({"options": options}).render_as_string(
                hide_password=False
            )
        finally:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
    finally:
        admin.close()
