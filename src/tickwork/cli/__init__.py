"""The ``tickwork`` command. Each sub-command is a thin layer over the library.

Exit codes: 0 success, 1 "something to report" (plan found changes, a check found problems),
2 invalid input (bad expression, config or argument), 3 the database or a service failed.
"""

from __future__ import annotations

import os
import sys

import click

from tickwork import __version__
from tickwork.cli.import_cmd import import_crontab_command
from tickwork.cli.next_cmd import next_command
from tickwork.cli.run_cmd import (
    check_command,
    db_group,
    run_command,
    scheduler_command,
    worker_command,
    workers_command,
)
from tickwork.cli.runs_cmd import runs_group
from tickwork.cli.schedules_cmd import (
    pause_command,
    resume_command,
    schedules_group,
    trigger_command,
)

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tickwork")
def cli() -> None:
    """tickwork: scheduled tasks that keep their promises."""


for command in (
    next_command,
    run_command,
    scheduler_command,
    worker_command,
    workers_command,
    check_command,
    db_group,
    schedules_group,
    runs_group,
    trigger_command,
    pause_command,
    resume_command,
):
    cli.add_command(command)
cli.add_command(import_crontab_command)


def main() -> None:
    # Like uvicorn's --app-dir default: tasks named "package.module:function" import from
    # the directory tickwork is started in.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    cli()
