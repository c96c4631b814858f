"""``UTCDateTime`` on SQLite writes exactly the text SQLAlchemy's own DATETIME writes (so
stored instants compare and sort as before), and reads back the aware instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.sqlite import DATETIME

from tickwork.store.schema import UTCDateTime, sqlite_instant

DIALECT = sqlite.dialect()
IMPL = UTCDateTime().dialect_impl(DIALECT)
WRITE = IMPL.bind_processor(DIALECT)
READ = IMPL.result_processor(DIALECT, None)
SQLALCHEMY_WRITE = DATETIME().bind_processor(DIALECT)

offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda m: timezone(timedelta(minutes=m))
)
instants = st.datetimes(
    min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=offsets
)


@given(instants)
def test_the_stored_text_is_sqlalchemys_and_reads_back_the_instant(instant: datetime) -> None:
    assert WRITE is not None
    assert READ is not None
    stored = WRITE(instant)
    assert stored == SQLALCHEMY_WRITE(instant.astimezone(UTC).replace(tzinfo=None))
    back = READ(stored)
    assert back == instant
    assert back.tzinfo is UTC


def test_none_stays_none_and_a_naive_instant_is_refused() -> None:
    assert WRITE is not None
    assert WRITE(None) is None
    with pytest.raises(ValueError, match="naive"):
        WRITE(datetime(2026, 1, 1))


@given(instants)
def test_sqlite_instant_is_the_stored_text(instant: datetime) -> None:
    """The text the SQLite bulk statements send (``sqlite_bulk``) is the column's own."""
    assert WRITE is not None
    assert sqlite_instant(instant) == WRITE(instant)


def test_sqlite_instant_refuses_a_naive_instant() -> None:
    with pytest.raises(ValueError, match="naive"):
        sqlite_instant(datetime(2026, 1, 1))
