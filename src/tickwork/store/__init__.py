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

SUPPORTED_URLS = (
    "sqlite:///<path to a file> or postgresql://<user>:<password>@<host>:<port>/<database>"
)


def open_store(url: str, *, connections: int | None = None) -> Store:
    """The store for ``url``: ``sqlite:///relative/path.db``, ``sqlite:////abs/path.db``, or
    ``postgresql://user:password@host:5432/database`` (also ``postgresql+psycopg://``).

    ``connections``: how many threads of this process use the store at once (a worker's
    concurrency plus its loop); the PostgreSQL store sizes its connection pool by it,
    SQLite has no pool to size. Raises ``InvalidSpecError`` (field ``database_url``) for an
    in-memory SQLite URL, another PostgreSQL driver or any other scheme. Does not create
    the schema (``store.upgrade()``), the database, nor the database file's directory.
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
        from tickwork.store.postgres import PostgresStore

        if connections is None:
            return PostgresStore(url)
        return PostgresStore(url, connections=connections)
    raise InvalidSpecError(
        "database_url", shown, SUPPORTED_URLS, message=f"unsupported database URL {shown!r}"
    )
