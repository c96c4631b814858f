"""Shared pieces of the CLI: loading the app, errors to exit codes, tables and JSON."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url

from tickwork.app import Tickwork
from tickwork.config import load_config
from tickwork.errors import (
    ConfigError,
    InvalidSpecError,
    RunNotFoundError,
    ScheduleConflictError,
    ScheduleNotFoundError,
    StoreUnavailableError,
    TickworkError,
)

EXIT_OK, EXIT_REPORT, EXIT_INVALID, EXIT_UNAVAILABLE = 0, 1, 2, 3
F = TypeVar("F", bound=Callable[..., Any])

config_option = click.option(
    "--config",
    "-c",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="tickwork.toml (default: $TICKWORK_CONFIG, ./tickwork.toml or ./pyproject.toml).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


def fail(message: str, code: int) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


@contextmanager
def errors_to_exit_codes() -> Iterator[None]:
    """Known errors become one clear stderr message and a meaningful exit code."""
    try:
        yield
    except ConfigError as err:
        fail(str(err), EXIT_INVALID)
    except (ScheduleNotFoundError, RunNotFoundError) as err:
        fail(str(err), EXIT_INVALID)
    except (InvalidSpecError, ScheduleConflictError) as err:
        fail(str(err), EXIT_INVALID)
    except StoreUnavailableError as err:
        fail(str(err), EXIT_UNAVAILABLE)
    except TickworkError as err:
        fail(str(err), EXIT_UNAVAILABLE if err.retryable else EXIT_INVALID)


def from_parents(name: str, value: Any) -> Any:
    """An option given to the group (``tickwork runs --config F show 3``) counts for its
    sub-commands too."""
    ctx = click.get_current_context(silent=True)
    while not value and ctx is not None and ctx.parent is not None:
        ctx = ctx.parent
        value = ctx.params.get(name, value)
    return value


def load_app(config_path: str | None, *, existing: bool = False) -> Tickwork:
    """The app for ``--config``. With ``existing``, a command that only reads refuses to
    create an empty SQLite database where none is (a wrong directory or a missing
    --config would otherwise show empty tables)."""
    with errors_to_exit_codes():
        tw = Tickwork(config=load_config(from_parents("config_path", config_path)))
    if existing:
        url = make_url(tw.settings.database_url)
        if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
            fail(
                f"no tickwork database at {url.database}; expected one created by "
                "`tickwork run` (pass --config or set TICKWORK_DATABASE_URL to use another)",
                EXIT_INVALID,
            )
    return tw


def emit_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=_default))


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    grid = Table(title=title, show_lines=False, header_style="bold")
    for index, column in enumerate(columns):
        last = index == len(columns) - 1
        grid.add_column(
            column, no_wrap=not last, overflow="ellipsis", max_width=60 if last else None
        )
    for row in rows:
        grid.add_row(*["" if cell is None else str(cell) for cell in row])
    # Piped output is not squeezed to 80 columns: scripts and `| less` get whole rows.
    console = Console(width=None if sys.stdout.isatty() else 200)
    console.print(grid)


def local(instant: datetime | None, tz: Any = None) -> str:
    if instant is None:
        return "-"
    shown = instant.astimezone(tz) if tz is not None else instant
    return shown.isoformat(sep=" ", timespec="seconds")
