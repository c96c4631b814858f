"""Alembic environment: migrate the connection handed over in ``config.attributes``.

Only the programmatic path is supported (see ``tickwork.store.migrations``): the caller owns
the connection and its transaction, so on SQLite the whole upgrade runs inside one
``BEGIN IMMEDIATE`` and two processes upgrading at once take turns.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from tickwork.store.schema import metadata

config = context.config
connection = config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError(
        "tickwork migrations run on a connection passed in config.attributes['connection']; "
        "use Store.upgrade() or `tickwork db upgrade`, not the alembic command line"
    )
if context.is_offline_mode():
    raise RuntimeError("tickwork migrations do not support offline (--sql) mode")

context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=config.attributes.get("version_table", "tw_alembic_version"),
    render_as_batch=True,  # SQLite cannot ALTER most things; later migrations use batch mode
    transactional_ddl=True,  # the caller's transaction holds the DDL (SQLite, PostgreSQL)
)
with context.begin_transaction():
    context.run_migrations()
