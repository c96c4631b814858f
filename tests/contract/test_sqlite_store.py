"""What is particular to the SQLite store: its settings, its locking, the URLs it takes."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from tickwork.errors import InvalidSpecError, StoreUnavailableError
from tickwork.model import RunState, ScheduleRow
from tickwork.store import open_store
from tickwork.store.base import FireDecision, RunFilter
from tickwork.store.sqlite import SQLiteStore

from .conftest import T0, add_schedule


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "tickwork.db"


@pytest.fixture
def sqlite_store(path: Path) -> Iterator[SQLiteStore]:
    store = SQLiteStore(f"sqlite:///{path}", busy_timeout_ms=200)
    try:
        store.upgrade()
        yield store
    finally:
        store.close()


def test_every_connection_gets_the_settings(sqlite_store: SQLiteStore) -> None:
    with sqlite_store._engine.connect() as conn:
        pragma = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
        }
    assert pragma == {
        "journal_mode": "wal",
        "synchronous": 1,
        "foreign_keys": 1,
        "busy_timeout": 200,
    }


def test_writes_begin_immediate_and_reads_begin_deferred(sqlite_store: SQLiteStore) -> None:
    add_schedule(sqlite_store, "a")
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement.split()[0] if statement.startswith("SELECT") else statement)

    event.listen(sqlite_store._engine, "before_cursor_execute", record)
    try:
        sqlite_store.trigger("a", T0)
        writes, seen[:] = list(seen), []
        sqlite_store.get_schedule("a")
        reads = list(seen)
    finally:
        event.remove(sqlite_store._engine, "before_cursor_execute", record)
    assert writes[0] == "BEGIN IMMEDIATE"
    assert reads[0] == "BEGIN"


def test_a_locked_database_is_unavailable_for_writes_and_fine_for_reads(
    sqlite_store: SQLiteStore, path: Path
) -> None:
    add_schedule(sqlite_store, "a")
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        with pytest.raises(StoreUnavailableError) as caught:
            sqlite_store.trigger("a", T0)
        assert caught.value.retryable
        message = str(caught.value)
        assert "could not trigger a run" in message
        assert "locked" in message
        assert str(path) in message
        assert sqlite_store.get_schedule("a") is not None  # WAL: readers never wait
        other.execute("ROLLBACK")
    finally:
        other.close()
    assert sqlite_store.trigger("a", T0).schedule == "a"  # retrying helps


def test_opening_a_current_schema_does_not_wait_for_a_busy_writer(
    sqlite_store: SQLiteStore, path: Path
) -> None:
    # A CLI command beside a scheduler in a long write (catching up after downtime) opens
    # the store: nothing to migrate, so no write lock, no "could not migrate the schema".
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        again = SQLiteStore(f"sqlite:///{path}", busy_timeout_ms=200)
        try:
            again.upgrade()
            assert again.get_schedule("nope") is None
        finally:
            again.close()
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_a_missing_directory_is_unavailable_and_says_so(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'missing' / 'tickwork.db'}")
    try:
        with pytest.raises(StoreUnavailableError, match="cannot open the database file"):
            store.upgrade()
    finally:
        store.close()
    assert not (tmp_path / "missing").exists()  # creating directories is not the store's job


@pytest.mark.parametrize(
    "url",
    ["sqlite://", "sqlite:///:memory:", "sqlite:///file::memory:?cache=shared"],
)
def test_in_memory_sqlite_is_refused(url: str) -> None:
    with pytest.raises(InvalidSpecError, match="in-memory SQLite is not supported") as caught:
        open_store(url)
    assert caught.value.field == "database_url"
    assert "several" in str(caught.value)


@pytest.mark.parametrize("url", ["mysql://db.example/tickwork", "not a url", ""])
def test_other_urls_are_refused_naming_the_supported_ones(url: str) -> None:
    with pytest.raises(InvalidSpecError) as caught:
        open_store(url)
    assert caught.value.field == "database_url"
    assert "sqlite:///" in caught.value.expected


def test_sqlite_store_refuses_other_schemes() -> None:
    with pytest.raises(InvalidSpecError, match="SQLite file URL"):
        SQLiteStore("postgresql://db.example/tickwork")


def test_threads_of_one_process_take_turns_to_write(path: Path) -> None:
    """A writer that holds its turn past the busy timeout makes the others unavailable, not
    stuck; once it is done they write again. Two stores on one file share the turn."""
    url = f"sqlite:///{path}"
    holder, waiter = SQLiteStore(url, busy_timeout_ms=200), SQLiteStore(url, busy_timeout_ms=200)
    holder.upgrade()
    add_schedule(holder, "a")
    inside, done = threading.Event(), threading.Event()

    def slow_planner(row: ScheduleRow, now: datetime) -> FireDecision:
        inside.set()
        assert done.wait(30)  # a safety net only: the test sets it
        return FireDecision(next_fire_at=now + timedelta(minutes=1))

    try:
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(holder.enqueue_due, T0, 10, slow_planner)
            assert inside.wait(30)
            try:
                with pytest.raises(StoreUnavailableError, match="other threads of this process"):
                    waiter.trigger("a", T0)
                assert waiter.get_schedule("a") is not None  # reads do not wait for a turn
            finally:
                done.set()
            assert pending.result(30).schedules == 1
        assert waiter.trigger("a", T0).schedule == "a"
    finally:
        holder.close()
        waiter.close()


@contextmanager
def query_plans(store: SQLiteStore, *words: str) -> Iterator[list[str]]:
    """The plans SQLite chose for the statements run meanwhile that contain ``words``."""
    plans: list[str] = []

    def explain(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if all(word in statement for word in words):
            rows = cursor.connection.execute("EXPLAIN QUERY PLAN " + statement, params)
            plans.append(" | ".join(str(row[-1]) for row in rows))

    event.listen(store._engine, "before_cursor_execute", explain)
    try:
        yield plans
    finally:
        event.remove(store._engine, "before_cursor_execute", explain)


def test_the_finished_runs_page_is_read_from_the_cursor_not_the_history(
    sqlite_store: SQLiteStore,
) -> None:
    """The monitor's page of finished runs is read along the finished_at index from its
    cursor: with the (state, due_at) index SQLite sorted every finished run of the history
    for each page (0.8 s a page with 10,000 runs a schedule, under the write lock)."""
    with query_plans(sqlite_store, "FROM tw_runs", "ORDER BY tw_runs.finished_at") as plans:
        cursor = (T0 - timedelta(hours=1), 7)
        sqlite_store.record_finished(T0, cursor, T0, pause_after=0, limit=100)
    [plan] = plans
    assert "USING INDEX ix_tw_runs_finished_at (finished_at>? AND finished_at<?)" in plan
    assert "TEMP B-TREE FOR ORDER BY" not in plan


def test_a_metrics_scrape_reads_only_the_recent_successes(sqlite_store: SQLiteStore) -> None:
    """The newest success per schedule comes from the runs finished in the last minutes
    (the rest from the health rows): SQLite grouped along the unique index and read every
    run (0.7 s a scrape with a million runs)."""
    with query_plans(sqlite_store, "max(tw_runs.finished_at)") as plans:
        sqlite_store.metrics_snapshot(T0)
    [plan] = plans
    assert plan.startswith("SEARCH tw_runs USING INDEX ix_tw_runs_finished_at (finished_at>?)")


@pytest.mark.parametrize(
    ("query", "index"),
    [
        (
            RunFilter(schedule="a", states=frozenset({RunState.queued})),
            "ix_tw_runs_schedule_id_state_id",
        ),
        (
            RunFilter(schedule="a", since=T0, until=T0 + timedelta(hours=1)),
            "sqlite_autoindex_tw_runs_1",
        ),
    ],
)
def test_a_schedules_runs_by_state_or_time_are_read_by_its_id(
    sqlite_store: SQLiteStore, query: RunFilter, index: str
) -> None:
    """Filtered by state or by fire time, one schedule's runs are found through an index on
    its id: the name's (schedule, id) index read its whole history for those filters."""
    add_schedule(sqlite_store, "a")
    with query_plans(sqlite_store, "FROM tw_runs", "ORDER BY tw_runs.id DESC") as plans:
        sqlite_store.list_runs(query)
    [plan] = plans
    assert f"SEARCH tw_runs USING INDEX {index} (schedule_id=?" in plan


def test_the_runs_of_given_fires_are_read_by_the_unique_index(sqlite_store: SQLiteStore) -> None:
    add_schedule(sqlite_store, "a")
    with query_plans(sqlite_store, "FROM tw_runs", "nominal_fire IN") as plans:
        sqlite_store.runs_at("a", [T0, T0 + timedelta(minutes=1)])
    [plan] = plans
    assert "USING INDEX sqlite_autoindex_tw_runs_1 (schedule_id=? AND nominal_fire=?)" in plan


def test_runs_by_state_are_read_newest_first_from_an_index(sqlite_store: SQLiteStore) -> None:
    """Every schedule's runs in one state, newest first: the (state, id) index in order, not
    every run in that state read through (state, due_at) and sorted."""
    with query_plans(sqlite_store, "FROM tw_runs", "ORDER BY tw_runs.id DESC") as plans:
        sqlite_store.list_runs(RunFilter(states=frozenset({RunState.succeeded})))
    [plan] = plans
    assert plan == "SEARCH tw_runs USING INDEX ix_tw_runs_state_id (state=?)"
