"""SQLite: the statements that write many rows at once, each row list sent as one JSON
parameter and read back by ``json_each``.

A plain executemany, or SQLAlchemy's multi-row INSERT, turns every value of every row into a
bound parameter in Python (a type processor per value, a parameter dictionary per row): for
a no-op run that was about a fifth of its whole cost, spread over the scheduler's runs,
advances and events and the worker's events. Here a row is a JSON array built with the
instants already in SQLite's stored text (``sqlite_instant``), and SQLite parses the array in
C. The rows stored are the same as the plain statements store; the contract suite runs
every store behaviour through these.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Text, bindparam, func, select, true, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from tickwork.store.schema import (
    EVENT_COLUMNS,
    NEW_RUN_COLUMNS,
    run_events,
    runs,
    schedules,
    sqlite_instant,
)

__all__ = ["advance_schedules", "insert_events", "insert_runs"]


def _rows(columns: Sequence[str]) -> Any:
    """``json_each`` over the ``rows`` parameter (a JSON array of arrays), as a subquery
    with one column per position, named after ``columns``."""
    each = func.json_each(bindparam("rows", type_=Text())).table_valued("value")
    return select(
        *(func.json_extract(each.c.value, f"$[{i}]").label(name) for i, name in enumerate(columns))
    ).subquery("r")


def _encode(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str | None:
    """``rows`` as the JSON array of arrays ``_rows`` reads: instants as stored text (a
    naive one is refused, as ``UTCDateTime`` refuses it; each distinct instant converted
    once: a batch shares its ``now``), a JSON column's object as itself (``json_extract``
    gives its text). None when a text holds a NUL character, which ``json_extract`` would
    cut off there, or a number is not finite, which JSON cannot hold: the caller sends
    those rows the plain way."""
    instants: dict[datetime, str] = {}
    out = []
    for row in rows:
        item = [row.get(name) for name in columns]
        for i, value in enumerate(item):
            if isinstance(value, datetime):
                text = instants.get(value)
                if text is None:
                    text = instants[value] = sqlite_instant(value)
                item[i] = text
            elif isinstance(value, str) and "\x00" in value:
                return None
        out.append(item)
    try:
        return json.dumps(out, allow_nan=False)
    except ValueError:  # NaN or an infinity (in an event's detail)
        return None


_RUN_ROWS = _rows(NEW_RUN_COLUMNS)
# ``WHERE true``: an INSERT ... SELECT with an upsert clause needs a WHERE, or SQLite reads
# ON CONFLICT as a join constraint (its documented parsing ambiguity).
_INSERT_RUNS = (
    sqlite_insert(runs)
    .from_select(list(NEW_RUN_COLUMNS), select(_RUN_ROWS).where(true()))
    .on_conflict_do_nothing(index_elements=["schedule_id", "nominal_fire"])
    .returning(runs.c.id, runs.c.schedule_id, runs.c.nominal_fire)
)
_PLAIN_INSERT_RUNS = (
    sqlite_insert(runs)
    .on_conflict_do_nothing(index_elements=["schedule_id", "nominal_fire"])
    .returning(runs.c.id, runs.c.schedule_id, runs.c.nominal_fire)
)


def insert_runs(
    conn: Connection, rows: Sequence[dict[str, Any]]
) -> dict[tuple[int, datetime], int]:
    """``SQLStore._insert_runs`` in one statement: the new ids by (schedule id, nominal
    fire); a fire that already had a run is left alone and missing here."""
    created: dict[tuple[int, datetime], int] = {}
    if not rows:
        return created
    encoded = _encode(rows, NEW_RUN_COLUMNS)
    if encoded is None:
        found = conn.execute(_PLAIN_INSERT_RUNS, list(rows))
    else:
        found = conn.execute(_INSERT_RUNS, {"rows": encoded})
    for run_id, schedule_id, nominal in found:
        created[(int(schedule_id), nominal)] = int(run_id)
    return created


_EVENT_ROWS = _rows(EVENT_COLUMNS)
_INSERT_EVENTS = run_events.insert().from_select(list(EVENT_COLUMNS), select(_EVENT_ROWS))


def insert_events(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Run events in one statement (``BULK_EVENTS``)."""
    encoded = _encode(rows, EVENT_COLUMNS)
    if encoded is None:
        conn.execute(run_events.insert(), rows)
    else:
        conn.execute(_INSERT_EVENTS, {"rows": encoded})


_ADVANCE_COLUMNS = ("row_id", "read", "next", "last")
_ADVANCES = _rows(_ADVANCE_COLUMNS)
# The scheduler's conditional advance (``sql._ADVANCE``) of many schedules at once: a row
# moves only while its next_fire_at is still the value read.
_ADVANCE = (
    update(schedules)
    .where(schedules.c.id == _ADVANCES.c.row_id, schedules.c.next_fire_at == _ADVANCES.c.read)
    .values(
        next_fire_at=_ADVANCES.c.next,
        last_fire_at=func.coalesce(_ADVANCES.c["last"], schedules.c.last_fire_at),
    )
)


def advance_schedules(conn: Connection, rows: Sequence[dict[str, Any]]) -> int:
    """Move each schedule ``row_id`` from ``read`` to ``next`` (and ``last``, when given) in
    one statement: how many moved."""
    encoded = _encode(rows, _ADVANCE_COLUMNS)  # ids and instants: never None
    return int(conn.execute(_ADVANCE, {"rows": encoded}).rowcount)
