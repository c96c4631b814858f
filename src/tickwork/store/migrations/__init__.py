"""Alembic migrations of the tickwork schema, shipped inside the package.

Driven from code (``Store.upgrade()``, ``tickwork db upgrade``): the Alembic ``Config`` is
built here with ``script_location`` pointing at this directory and the caller's connection
passed in ``config.attributes``, so users need no ``alembic.ini``. ``env.py`` runs the
migrations on that connection, inside the caller's transaction.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

__all__ = ["VERSION_TABLE", "alembic_config", "current_revision", "head_revision", "upgrade"]

SCRIPT_LOCATION = Path(__file__).resolve().parent
VERSION_TABLE = "tw_alembic_version"  # prefixed like every tickwork table


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config for these migrations; ``connection`` is the one to migrate."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = connection
    config.attributes["version_table"] = VERSION_TABLE
    return config


def upgrade(connection: Connection, revision: str = "head") -> None:
    """Migrate the database behind ``connection`` to ``revision`` inside its transaction.

    A database already at ``revision`` is left as it is, so this is idempotent.
    """
    command.upgrade(alembic_config(connection), revision)


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at (None for an empty database)."""
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def head_revision() -> str | None:
    """The newest revision shipped with this version of tickwork."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
