"""The SQLite bulk statements (``sqlite_bulk``: rows as one JSON parameter) store what the
plain SQLAlchemy statements store, byte for byte, for any names, instants in any zone,
texts and details; bad input is refused before anything is written."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, insert, select, text

from tickwork.store import sqlite_bulk
from tickwork.store.schema import metadata, run_events, runs, schedules

offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda m: timezone(timedelta(minutes=m))
)
instants = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(9998, 12, 31), timezones=offsets
)
texts = st.text(max_size=30)
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@pytest.fixture
def engines(tmp_path: Path) -> Iterator[tuple[Engine, Engine]]:
    """Two empty databases with the schema and one schedule: (bulk, plain)."""
    made = []
    for name in ("bulk", "plain"):
        engine = create_engine(f"sqlite:///{tmp_path / name}.db")
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(insert(schedules), [_schedule(1, "first"), _schedule(2, "second")])
        made.append(engine)
    yield made[0], made[1]
    for engine in made:
        engine.dispose()


def _schedule(sid: int, name: str) -> dict[str, Any]:
    return {
        "id": sid,
        "name": name,
        "spec": {"task": "t"},
        "source": "code",
        "paused": False,
        "retired": False,
        "version": 1,
        "next_fire_at": NOW,
        "anchor": NOW,
        "created_at": NOW,
        "updated_at": NOW,
    }


def _empty(engines: tuple[Engine, Engine]) -> None:
    """No runs or events (hypothesis runs many examples on one pair of databases)."""
    for engine in engines:
        with engine.begin() as conn:
            conn.execute(run_events.delete())
            conn.execute(runs.delete())


def _raw(engine: Engine, table: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(text(f"SELECT * FROM {table} ORDER BY id"))]


run_rows = st.lists(
    st.fixed_dictionaries(
        {
            "schedule": texts,
            "nominal_fire": instants,
            "due_at": instants,
            "state": st.sampled_from(["queued", "missed", "skipped"]),
            "attempt": st.integers(0, 5),
            "max_attempts": st.integers(1, 9),
            "kind": st.sampled_from(["schedule", "manual"]),
            "created_at": instants,
            "finished_at": st.none() | instants,
            "error": st.none() | texts,
        }
    ),
    min_size=1,
    max_size=8,
    unique_by=lambda row: row["nominal_fire"],
)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=run_rows)
def test_runs_are_stored_as_the_plain_insert_stores_them(
    engines: tuple[Engine, Engine], rows: list[dict[str, Any]]
) -> None:
    bulk, plain = engines
    _empty(engines)
    rows = [{"schedule_id": 1, **row} for row in rows]
    with bulk.begin() as conn:
        created = sqlite_bulk.insert_runs(conn, rows)
    with plain.begin() as conn:
        conn.execute(insert(runs), rows)
    assert _raw(bulk, "tw_runs") == _raw(plain, "tw_runs")
    assert set(created) == {(1, row["nominal_fire"]) for row in rows}


@pytest.mark.parametrize("nul", ["name\x00", "\x00"])
def test_a_text_with_a_nul_is_stored_whole(engines: tuple[Engine, Engine], nul: str) -> None:
    """``json_extract`` would cut such a text at the NUL: those rows go the plain way."""
    bulk, _ = engines
    row = {
        "schedule_id": 1,
        "schedule": nul,
        "nominal_fire": NOW,
        "due_at": NOW,
        "state": "skipped",
        "attempt": 0,
        "max_attempts": 1,
        "kind": "schedule",
        "created_at": NOW,
        "error": nul,
    }
    with bulk.begin() as conn:
        (run_id,) = sqlite_bulk.insert_runs(conn, [row]).values()
        event = {"run_id": run_id, "at": NOW, "event": nul, "state": "skipped", "attempt": 0}
        event["detail"] = None
        sqlite_bulk.insert_events(conn, [{**event, "detail": {"reason": nul}}, event])
    with bulk.connect() as conn:
        stored = conn.execute(select(runs.c.schedule, runs.c.error)).one()
        logged = conn.execute(select(run_events.c.event, run_events.c.detail)).all()
    assert tuple(stored) == (nul, nul)
    assert [tuple(e) for e in logged] == [(nul, {"reason": nul}), (nul, None)]


def test_a_fire_that_has_a_run_is_left_alone(engines: tuple[Engine, Engine]) -> None:
    bulk, _ = engines
    row = {
        "schedule_id": 1,
        "schedule": "first",
        "nominal_fire": NOW,
        "due_at": NOW,
        "state": "queued",
        "attempt": 0,
        "max_attempts": 1,
        "kind": "schedule",
        "created_at": NOW,
    }
    with bulk.begin() as conn:
        first = sqlite_bulk.insert_runs(conn, [row])
        again = sqlite_bulk.insert_runs(conn, [row, {**row, "schedule_id": 2}])
    assert list(first) == [(1, NOW)]
    assert list(again) == [(2, NOW)]
    assert len(_raw(bulk, "tw_runs")) == 2


details = st.none() | st.dictionaries(
    texts, st.none() | st.integers() | st.floats(allow_nan=False) | texts, max_size=4
)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(instants, texts, details), min_size=1, max_size=8))
def test_events_read_back_as_the_plain_insert_writes_them(
    engines: tuple[Engine, Engine], rows: list[tuple[datetime, str, Any]]
) -> None:
    bulk, plain = engines
    _empty(engines)
    run = {"schedule_id": 1, "schedule": "first", "nominal_fire": NOW, "due_at": NOW}
    for engine in engines:
        with engine.begin() as conn:
            conn.execute(insert(runs), [{**run, "state": "queued", "created_at": NOW}])
    events = [
        {"run_id": 1, "at": at, "event": event, "state": "queued", "attempt": 0, "detail": d}
        for at, event, d in rows
    ]
    with bulk.begin() as conn:
        sqlite_bulk.insert_events(conn, events)
    with plain.begin() as conn:
        conn.execute(insert(run_events), events)
    read = []
    for engine in engines:
        with engine.connect() as conn:
            read.append(list(conn.execute(select(run_events).order_by(run_events.c.id))))
    assert read[0] == read[1]
    # The detail's text differs only in spacing (SQLite writes JSON without spaces).
    raw = _raw(bulk, "tw_run_events")
    assert [None if r[-1] is None else json.loads(r[-1]) for r in raw] == [d for *_, d in rows]


def test_advances_move_only_rows_still_at_the_value_read(engines: tuple[Engine, Engine]) -> None:
    bulk, _ = engines
    later = NOW + timedelta(hours=1)
    with bulk.begin() as conn:
        moved = sqlite_bulk.advance_schedules(
            conn,
            [
                {"row_id": 1, "read": NOW, "next": later, "last": NOW},
                {"row_id": 2, "read": NOW - timedelta(seconds=1), "next": later, "last": NOW},
            ],
        )
    assert moved == 1
    with bulk.connect() as conn:
        rows = dict(conn.execute(select(schedules.c.id, schedules.c.next_fire_at)).all())
    assert rows == {1: later, 2: NOW}


def test_a_naive_instant_is_refused_before_anything_is_written(
    engines: tuple[Engine, Engine],
) -> None:
    bulk, _ = engines
    naive = datetime(2026, 12, 4, 12, 0)
    with pytest.raises(ValueError, match="naive datetime"), bulk.begin() as conn:
        sqlite_bulk.advance_schedules(
            conn, [{"row_id": 1, "read": NOW, "next": naive, "last": None}]
        )
    with bulk.connect() as conn:
        assert (
            conn.execute(select(schedules.c.next_fire_at).where(schedules.c.id == 1)).scalar()
            == NOW
        )


def test_a_detail_json_cannot_hold_goes_the_plain_way(engines: tuple[Engine, Engine]) -> None:
    """An infinity is no JSON number: those rows go the plain way (stored as SQLAlchemy's
    serializer writes them)."""
    bulk, _ = engines
    run = {"schedule_id": 1, "schedule": "first", "nominal_fire": NOW, "due_at": NOW}
    event = {"run_id": 1, "at": NOW, "event": "e", "state": "queued", "attempt": 0}
    with bulk.begin() as conn:
        conn.execute(insert(runs), [{**run, "state": "queued", "created_at": NOW}])
        sqlite_bulk.insert_events(conn, [{**event, "detail": {"x": float("inf")}}])
    with bulk.connect() as conn:
        assert conn.execute(select(run_events.c.detail)).scalar() == {"x": float("inf")}
