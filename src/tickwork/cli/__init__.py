"""The ``tickwork`` command. Each sub-command is a thin layer over the library.

Exit codes: 0 success, 1 "something to report" (plan found changes, a check found problems),
2 invalid input (bad expression, config or argument), 3 the database or a service failed.
"""

from __future__ import annotations

import click

from tickwork import __version__
from tickwork.cli.next_cmd import next_command

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tickwork")
def cli() -> None:
    """tickwork: scheduled tasks that keep their promises."""


cli.add_command(next_command)


def main() -> None:
    cli()
