"""What is particular to the PostgreSQL store: URLs, outages, retried transactions, the
claim's plan, LISTEN/NOTIFY and the database clock."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import event
from sqlalchemy.engine import make_url

from tickwork.errors import InvalidSpecError, StoreUnavailableError
from tickwork.store import open_store
from tickwork.store.base import ListeningStore, ScheduleUpsert, TimekeepingStore
from tickwork.store.postgres import PostgresStore
from tickwork.store.sql import RETRY_TRIES, _page_size

from .conftest import LEASE, MINUTE, T0, add_schedule, minutely, runs_of

ROOT = Path(__file__).resolve().parents[2]
WAIT = 20  # seconds; a safety net only: the tests wait on events


@pytest.fixture
def url(postgres_url: str) -> str:
    return postgres_url


@pytest.fixture
def pg(url: str) -> Iterator[PostgresStore]:
    store = PostgresStore(url)
    try:
        store.upgrade()
        yield store
    finally:
        store.close()


def _admin(url: str) -> psycopg.Connection[Any]:
    server = make_url(url).set(drivername="postgresql")
    return psycopg.connect(server.render_as_string(hide_password=False), autocommit=True)


def _backend_pids(store: PostgresStore) -> list[int]:
    """The server processes of the connections in the store's pool (checked in)."""
    with store._engine.connect() as conn:
        return [int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())]


def _replace_statements(store: PostgresStore, needle: str, sql: str, times: int) -> list[str]:
    """The next ``times`` statements containing ``needle`` run ``sql`` instead (a real
    server error on a real connection); returns the list of replaced statements."""
    replaced: list[str] = []

    def swap(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool):
        if needle in statement and len(replaced) < times:
            replaced.append(statement)
            return sql, {}
        return statement, params

    event.listen(store._engine, "before_cursor_execute", swap, retval=True)
    return replaced


# -- URLs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "given",
    [
        "postgresql://tick:s3cret@db.example/tickwork",
        "postgresql+psycopg://tick:s3cret@db.example:6543/tickwork",
    ],
)
def test_postgresql_urls_open_the_postgres_store_without_connecting(given: str) -> None:
    store = open_store(given)
    try:
        assert isinstance(store, PostgresStore)
        assert isinstance(store, ListeningStore)
        assert isinstance(store, TimekeepingStore)
        assert store._engine.url.drivername == "postgresql+psycopg"
        assert "s3cret" not in repr(store)
    finally:
        store.close()


@pytest.mark.parametrize(
    "given", ["postgresql+psycopg2://tick:s3cret@db/tw", "postgresql+asyncpg://tick:s3cret@db/tw"]
)
def test_other_postgresql_drivers_are_refused_without_showing_the_password(given: str) -> None:
    with pytest.raises(InvalidSpecError, match="psycopg 3") as caught:
        open_store(given)
    assert caught.value.field == "database_url"
    assert "s3cret" not in str(caught.value)


# -- outages -----------------------------------------------------------------------------


def test_an_unreachable_server_is_unavailable_naming_it_without_the_password() -> None:
    store = open_store("postgresql://tick:s3cret@127.0.0.1:1/tickwork?connect_timeout=2")
    try:
        with pytest.raises(StoreUnavailableError) as caught:
            store.list_schedules()
    finally:
        store.close()
    message = str(caught.value)
    assert caught.value.retryable
    assert "PostgreSQL store at 127.0.0.1:1/tickwork: could not list schedules" in message
    assert "s3cret" not in message
    print(message)


def test_a_terminated_pooled_connection_is_replaced_and_the_call_succeeds(
    pg: PostgresStore, url: str
) -> None:
    add_schedule(pg, "a")
    [pid] = _backend_pids(pg)
    with _admin(url) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone() == (True,)
    # Its first statement finds it dead; the transaction runs again on a new connection.
    assert pg.trigger("a", T0).schedule == "a"
    assert [r.schedule for r in runs_of(pg)] == ["a"]
    assert pid not in _backend_pids(pg)


def test_a_connection_lost_mid_transaction_runs_the_transaction_again(
    pg: PostgresStore,
) -> None:
    add_schedule(pg, "a")
    killed = _replace_statements(
        pg, "INSERT INTO tw_runs", "SELECT pg_terminate_backend(pg_backend_pid())", times=1
    )
    run = pg.trigger("a", T0)
    assert len(killed) == 1
    assert [r.id for r in runs_of(pg)] == [run.id]  # one run: the first attempt rolled back


def test_deadlocks_are_retried_and_the_transaction_runs_once(pg: PostgresStore) -> None:
    add_schedule(pg, "a")
    deadlock = "DO $$ BEGIN RAISE EXCEPTION 'test' USING ERRCODE = 'deadlock_detected'; END $$"
    replaced = _replace_statements(pg, "INSERT INTO tw_runs", deadlock, times=RETRY_TRIES - 1)
    run = pg.trigger("a", T0)
    assert len(replaced) == RETRY_TRIES - 1
    assert [r.id for r in runs_of(pg)] == [run.id]


def test_a_deadlock_every_time_is_unavailable_after_the_retries(pg: PostgresStore) -> None:
    add_schedule(pg, "a")
    fail = "DO $$ BEGIN RAISE EXCEPTION 'test' USING ERRCODE = 'serialization_failure'; END $$"
    _replace_statements(pg, "INSERT INTO tw_runs", fail, times=RETRY_TRIES)
    with pytest.raises(StoreUnavailableError, match=f"serialization failure.*{RETRY_TRIES}"):
        pg.trigger("a", T0)
    assert runs_of(pg) == []


def test_concurrent_first_syncs_of_one_config_insert_each_schedule_once(url: str) -> None:
    """Six processes starting at once each sync the same config into an empty schema."""
    stores = [PostgresStore(url) for _ in range(6)]
    stores[0].upgrade()
    barrier = threading.Barrier(len(stores))
    added: list[int] = []
    errors: list[BaseException] = []

    def sync(store: PostgresStore) -> None:
        try:
            barrier.wait(WAIT)
            # The same 50 definitions in every process.
            items = [ScheduleUpsert(f"s{i}", {"cron": "* * * * *"}, T0, T0) for i in range(50)]
            added.append(len(store.sync_schedules(items, "config", T0).added))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=sync, args=(s,)) for s in stores]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(WAIT)
    finally:
        for s in stores:
            s.close()
    assert errors == []
    assert sorted(added) == [0, 0, 0, 0, 0, 50]


def test_concurrent_upgrades_of_an_empty_schema_migrate_once(url: str) -> None:
    stores = [PostgresStore(url) for _ in range(4)]
    barrier = threading.Barrier(len(stores))
    errors: list[BaseException] = []

    def upgrade(store: PostgresStore) -> None:
        try:
            barrier.wait(WAIT)
            store.upgrade()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=upgrade, args=(s,)) for s in stores]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(WAIT)
        assert errors == []
        assert stores[0].list_schedules() == []
    finally:
        for s in stores:
            s.close()


# -- the claim's plan --------------------------------------------------------------------


def test_the_claim_is_planned_with_its_now_after_many_executions(
    pg: PostgresStore, url: str
) -> None:
    """DESIGN.md: a bound ``now`` in an auto-prepared statement can get a generic plan.
    psycopg prepares a statement server-side after ``prepare_threshold`` (5) executions;
    the store turns that off, so after many claims nothing is prepared and the claim's
    plan (made with the actual ``now``) reads the partial index of waiting runs in due
    order."""
    row = add_schedule(pg, "a", overlap="allow")
    with _admin(url) as admin:  # 20 000 finished runs and 50 due ones: a realistic table
        admin.execute(
            "INSERT INTO tw_runs (schedule_id, schedule, nominal_fire, due_at, state, attempt,"
            " max_attempts, kind, created_at, finished_at)"
            " SELECT %s, 'a', t, t, CASE WHEN g > 20000 THEN 'queued' ELSE 'succeeded' END,"
            " 0, 1, 'schedule', t, t"
            " FROM generate_series(1, 20050) AS g,"
            " LATERAL (SELECT %s::timestamptz - (20050 - g) * interval '1 minute') AS x(t)",
            [row.id, T0],
        )
        admin.execute("ANALYZE tw_runs")
    for i in range(8):
        assert len(pg.claim(f"w{i}", T0, LEASE, 1)) == 1
    page = pg._claim_page(pg._due_schedules(T0, None), _page_size(4))  # a claim's first page
    stmt = page.compile(dialect=pg._engine.dialect, compile_kwargs={"render_postcompile": True})
    with pg._engine.connect() as conn:
        prepared = conn.exec_driver_sql("SELECT count(*) FROM pg_prepared_statements")
        assert prepared.scalar_one() == 0
        plan = _explain(conn, "EXPLAIN " + str(stmt), stmt.params)
        # For the record: the plan the statement would get once prepared and generic.
        generic_sql = str(stmt)
        for name, value in stmt.params.items():
            literal = "$1" if name == "due_at_1" else repr(value)
            generic_sql = generic_sql.replace(f"%({name})s", literal)
        conn.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
        conn.exec_driver_sql(f"PREPARE due_runs(timestamptz) AS {generic_sql}")
        generic = _explain(conn, f"EXPLAIN EXECUTE due_runs('{T0.isoformat()}')", {})
        conn.exec_driver_sql("DEALLOCATE due_runs")
        conn.exec_driver_sql("RESET plan_cache_mode")
    print(f"claim plan after 8 claims (custom, nothing prepared):\n{plan}")
    print(f"the same statement as a generic plan:\n{generic}")
    # Due order straight from the partial index of waiting runs: no sort of the backlog,
    # and the advisory lock is tried only on the rows LIMIT lets through.
    assert "Index Scan using ix_tw_runs_waiting_due" in plan
    assert "Sort" not in plan
    assert plan.index("pg_try_advisory_xact_lock") < plan.index("ix_tw_runs_waiting_due")


def test_a_claim_takes_turns_only_on_the_schedules_its_page_holds(pg: PostgresStore) -> None:
    for i in range(10):
        add_schedule(pg, f"s{i}", overlap="allow")
    pg.enqueue_due(T0, 100, minutely)
    size = _page_size(1)
    page = pg._claim_page(pg._due_schedules(T0, None), size)
    with pg._engine.begin() as conn:
        got = conn.execute(page).all()
        locks = conn.exec_driver_sql(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
        ).scalar_one()
    assert size == 2
    assert len(got) == 2
    assert locks == 2  # not one per due schedule


def _explain(conn: Any, sql: str, params: dict[str, Any]) -> str:
    return "\n".join(str(r[0]) for r in conn.exec_driver_sql(sql, params).all())


# -- LISTEN/NOTIFY -----------------------------------------------------------------------


def test_listen_calls_back_when_another_store_enqueues_or_triggers(
    pg: PostgresStore, url: str
) -> None:
    woken = threading.Semaphore(0)
    stop = pg.listen(woken.release)
    other = PostgresStore(url)
    try:
        add_schedule(other, "a", next_fire_at=T0)
        _wait_listening(pg, url)
        assert len(other.enqueue_due(T0, 10, minutely).queued) == 1
        assert woken.acquire(timeout=WAIT), "no notification after enqueue_due"
        other.trigger("a", T0 + MINUTE)
        assert woken.acquire(timeout=WAIT), "no notification after trigger"
    finally:
        stop()
        other.close()


def test_listen_ignores_notifications_of_other_schemas(
    pg: PostgresStore, url: str, new_postgres_schema: Callable[..., str]
) -> None:
    calls: list[str] = []
    ours = threading.Event()
    stop = pg.listen(lambda: (calls.append("wake"), ours.set()))
    elsewhere = PostgresStore(new_postgres_schema())
    try:
        elsewhere.upgrade()
        add_schedule(elsewhere, "a")
        add_schedule(pg, "a")
        _wait_listening(pg, url)
        elsewhere.trigger("a", T0)  # committed first, so delivered first
        pg.trigger("a", T0)
        assert ours.wait(WAIT)
        assert calls == ["wake"]
    finally:
        elsewhere.close()
        stop()


def test_the_listener_reconnects_after_its_connection_is_terminated(
    pg: PostgresStore, url: str
) -> None:
    woken = threading.Semaphore(0)
    stop = pg.listen(woken.release)
    try:
        add_schedule(pg, "a")
        pid = _wait_listening(pg, url)
        with _admin(url) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        assert woken.acquire(timeout=WAIT), "no wake-up after reconnecting"
        _wait_listening(pg, url, not_pid=pid)
        pg.trigger("a", T0)
        assert woken.acquire(timeout=WAIT), "no notification after reconnecting"
    finally:
        stop()
    assert not any(t.name == "tickwork-listen" and t.is_alive() for t in threading.enumerate())


def _wait_listening(store: PostgresStore, url: str, not_pid: int | None = None) -> int:
    """The backend pid of ``store``'s LISTEN connection, once it listens."""
    deadline = datetime.now(UTC) + timedelta(seconds=WAIT)
    while datetime.now(UTC) < deadline:
        for listener in list(store._listeners):
            pid = listener.backend_pid
            if pid is not None and pid != not_pid:
                return pid
        threading.Event().wait(0.05)
    raise AssertionError("the listener never connected")


# -- the database clock --------------------------------------------------------------------


def test_database_now_is_the_servers_clock(pg: PostgresStore) -> None:
    before = datetime.now(UTC)
    server = pg.database_now()
    after = datetime.now(UTC)
    assert server.tzinfo is UTC
    assert before - timedelta(seconds=1) <= server <= after + timedelta(seconds=1)


# -- skip or fail ------------------------------------------------------------------------


@pytest.mark.parametrize("required", ["1", ""])
def test_an_unreachable_test_server_fails_on_ci_and_is_skipped_elsewhere(required: str) -> None:
    env = {
        **os.environ,
        "TICKWORK_TEST_POSTGRES_URL": "postgresql://postgres:s3cret@127.0.0.1:1/test",
        "TICKWORK_REQUIRE_POSTGRES": required,
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/contract/test_workers.py",
            "-k",
            "postgres",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = result.stdout + result.stderr
    assert "PostgreSQL not reachable at postgresql://postgres:***@127.0.0.1:1/test" in out
    assert "s3cret" not in out
    if required:
        assert result.returncode == 1, out
        assert "TICKWORK_REQUIRE_POSTGRES is set" in out
    else:
        assert result.returncode == 0, out
        assert "skipped" in out
