"""The store: every durable operation of tickwork, and the only place that knows SQL.

``open_store(url)`` picks the implementation from the URL; ``Store`` (in ``base``) is the
interface both implementations pass ``tests/contract`` against.
"""

from __future__ import annotations

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from tickwork.errors import InvalidSpecError
from tickwork.store.base import Store

__all__ = ["SUPPORTED_URLS", "Store", "open_store"]

SUPPORTED_URLS = "sqlite:///<path to a file> (PostgreSQL arrives with issue 4)"


def open_store(url: str) -> Store:
    """The store for ``url``: ``sqlite:///relative/path.db`` or ``sqlite:////abs/path.db``.

    Raises ``InvalidSpecError`` (field ``database_url``) for an in-memory SQLite URL, a
    PostgreSQL URL (not implemented yet) or any other scheme. Does not create the schema
    (``store.upgrade()``) nor the database file's directory.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise InvalidSpecError("database_url", "<unparsable URL>", SUPPORTED_URLS) from exc
    backend = parsed.get_backend_name()
    shown = parsed.render_as_string(hide_password=True)  # never put a password in an error
    if backend == "sqlite":
        from tickwork.store.sqlite import SQLiteStore

        return SQLiteStore(url)
    if backend == "postgresql":
        raise InvalidSpecError(
            "database_url",
            shown,
            SUPPORTED_URLS,
            message=f"the PostgreSQL store is not implemented yet (issue 4): {shown!r}",
        )
    raise InvalidSpecError(
        "database_url", shown, SUPPORTED_URLS, message=f"unsupported database URL {shown!r}"
    )
