"""``tickwork runs`` and ``tickwork runs show ID``."""

from __future__ import annotations

from typing import Any

import click

from tickwork.cli.common import (
    config_option,
    emit_json,
    errors_to_exit_codes,
    from_parents,
    json_option,
    load_app,
    local,
    table,
)
from tickwork.errors import RunNotFoundError, ScheduleNotFoundError
from tickwork.model import Run, RunState
from tickwork.store.base import RunFilter


def run_json(run: Run, *, output: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": run.id,
        "schedule": run.schedule,
        "nominal_fire": run.nominal_fire.isoformat(),
        "due_at": run.due_at.isoformat(),
        "state": run.state.value,
        "attempt": run.attempt,
        "max_attempts": run.max_attempts,
        "kind": run.kind,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "exit_code": run.exit_code,
        "error": run.error,
        "idempotency_key": run.idempotency_key,
    }
    if output:
        data["output"] = run.output
    return data


@click.group("runs", invoke_without_command=True)
@click.option("--schedule", "-s", help="Only runs of this schedule.")
@click.option(
    "--status",
    "states",
    multiple=True,
    type=click.Choice([s.value for s in RunState]),
    help="Only runs in this state.",
)
@click.option("--limit", "-n", default=20, show_default=True, type=click.IntRange(1, 10000))
@config_option
@json_option
@click.pass_context
def runs_group(
    ctx: click.Context,
    schedule: str | None,
    states: tuple[str, ...],
    limit: int,
    config_path: str | None,
    as_json: bool,
) -> None:
    """Recent runs, newest first; `runs show ID` for one run's output, attempts and events."""
    if ctx.invoked_subcommand is not None:
        return
    tw = load_app(config_path, existing=True)
    with errors_to_exit_codes():
        if schedule is not None and tw.store.get_schedule(schedule) is None:
            raise ScheduleNotFoundError(schedule)
        runs = tw.store.list_runs(
            RunFilter(schedule=schedule, states=frozenset(RunState(s) for s in states), limit=limit)
        )
        if from_parents("as_json", as_json):
            emit_json([run_json(r) for r in runs])
            return
        table(
            None,
            [
                "id",
                "schedule",
                "nominal fire (UTC)",
                "state",
                "attempt",
                "started",
                "finished",
                "exit/error",
            ],
            [
                (
                    r.id,
                    r.schedule,
                    local(r.nominal_fire),
                    r.state.value,
                    f"{r.attempt}/{r.max_attempts}",
                    local(r.started_at),
                    local(r.finished_at),
                    _result(r),
                )
                for r in runs
            ],
        )


def _result(run: Run) -> str:
    """The exit/error column: why it ended, in a few words."""
    if run.state is RunState.timed_out:
        return "timed out"
    if run.exit_code is not None and run.exit_code >= 0:
        return str(run.exit_code)
    return _short(run.error)


def _short(text: str | None, width: int = 50) -> str:
    if not text:
        return ""
    line = text.strip().splitlines()[-1]
    return line if len(line) <= width else line[: width - 1] + "…"


@runs_group.command("show")
@click.argument("run_id", type=int)
@config_option
@json_option
def runs_show(run_id: int, config_path: str | None, as_json: bool) -> None:
    """One run: state, attempts, error, captured output and every transition."""
    tw = load_app(config_path, existing=True)
    with errors_to_exit_codes():
        run = tw.store.get_run(run_id)
        if run is None:
            raise RunNotFoundError(run_id)
        events = tw.store.run_events(run_id)
        if from_parents("as_json", as_json):
            emit_json(
                {
                    **run_json(run, output=True),
                    "events": [
                        {
                            "at": e.at.isoformat(),
                            "event": e.event,
                            "state": e.state.value,
                            "attempt": e.attempt,
                            "detail": e.detail,
                        }
                        for e in events
                    ],
                }
            )
            return
        click.echo(
            f"run {run.id}  {run.schedule}  {run.state.value}  "
            f"attempt {run.attempt}/{run.max_attempts}  ({run.kind})"
        )
        click.echo(f"  nominal fire   {local(run.nominal_fire)}   key {run.idempotency_key}")
        click.echo(
            f"  due {local(run.due_at)}  started {local(run.started_at)}  "
            f"finished {local(run.finished_at)}"
        )
        if run.exit_code is not None:
            click.echo(f"  exit code {run.exit_code}")
        if run.error:
            click.echo("  error:\n    " + run.error.strip().replace("\n", "\n    "))
        if run.output:
            click.echo(
                "  output (last 64 KiB):\n    " + run.output.rstrip().replace("\n", "\n    ")
            )
        table(
            "events",
            ["at", "event", "state", "attempt", "detail"],
            [(local(e.at), e.event, e.state.value, e.attempt, e.detail or "") for e in events],
        )
