"""The ``tickwork`` command. Each sub-command is a thin layer over the library.

Exit codes: 0 success, 1 "something to report" (plan found changes, a check found problems),
2 invalid input (bad expression, config or argument), 3 the database or a service failed.

Sub-commands are imported when used (click's lazy-group pattern), so ``tickwork next`` does
not pay for the engine and SQLAlchemy imports.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from tickwork import __version__

__all__ = ["cli", "main"]

COMMANDS = {
    "next": "tickwork.cli.next_cmd:next_command",
    "run": "tickwork.cli.run_cmd:run_command",
    "api": "tickwork.cli.api_cmd:api_command",
    "scheduler": "tickwork.cli.run_cmd:scheduler_command",
    "worker": "tickwork.cli.run_cmd:worker_command",
    "workers": "tickwork.cli.run_cmd:workers_command",
    "check": "tickwork.cli.run_cmd:check_command",
    "db": "tickwork.cli.run_cmd:db_group",
    "schedules": "tickwork.cli.schedules_cmd:schedules_group",
    "runs": "tickwork.cli.runs_cmd:runs_group",
    "trigger": "tickwork.cli.schedules_cmd:trigger_command",
    "pause": "tickwork.cli.schedules_cmd:pause_command",
    "resume": "tickwork.cli.schedules_cmd:resume_command",
    "import-crontab": "tickwork.cli.import_cmd:import_crontab_command",
    "plan": "tickwork.cli.revisions_cmd:plan_command",
    "apply": "tickwork.cli.revisions_cmd:apply_command",
    "rollback": "tickwork.cli.revisions_cmd:rollback_command",
    "revisions": "tickwork.cli.revisions_cmd:revisions_group",
    "token": "tickwork.cli.token_cmd:token_group",
    "backfill": "tickwork.cli.ops_cmd:backfill_command",
    "doctor": "tickwork.cli.ops_cmd:doctor_command",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        ref = COMMANDS.get(cmd_name)
        if ref is None:
            return None
        module, _, attr = ref.partition(":")
        command = getattr(importlib.import_module(module), attr)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tickwork")
def cli() -> None:
    """tickwork: scheduled tasks that keep their promises."""


def main() -> None:
    # Like uvicorn's --app-dir default: tasks named "package.module:function" import from
    # the directory tickwork is started in.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    cli()
