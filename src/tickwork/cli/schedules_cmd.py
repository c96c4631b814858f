"""``tickwork schedules``, ``trigger``, ``pause`` and ``resume``."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

import click

from tickwork.app import Tickwork
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
from tickwork.cli.runs_cmd import run_json
from tickwork.errors import ScheduleNotFoundError
from tickwork.model import TERMINAL_STATES, ScheduleRow
from tickwork.spec import ScheduleSpec, trigger_text
from tickwork.store.base import RunFilter
from tickwork.triggers.describe import describe


def _last_result(tw: Tickwork, row: ScheduleRow, tz: tzinfo) -> str:
    """The last finished run's state and end, in the schedule's zone like its next fire."""
    for run in tw.store.list_runs(RunFilter(schedule=row.name, limit=20)):
        if run.state in TERMINAL_STATES:
            return f"{run.state.value} ({local(run.finished_at, tz)})"
    return "-"


def schedule_json(tw: Tickwork, row: ScheduleRow, count: int = 1) -> dict[str, Any]:
    spec = ScheduleSpec.from_stored(row.spec)
    return {
        "name": row.name,
        "source": row.source,
        "paused": row.paused,
        "retired": row.retired,
        "trigger": trigger_text(row.spec),
        "tz": row.spec.get("tz"),
        "description": describe(spec.trigger(row.anchor)),
        "next_fires": [f.isoformat() for f in tw.next_fires(row.name, count)]
        if not row.retired
        else [],
        "last_fire_at": row.last_fire_at,
        "version": row.version,
        "spec": row.spec,
    }


@click.group("schedules", invoke_without_command=True)
@config_option
@json_option
@click.pass_context
def schedules_group(ctx: click.Context, config_path: str | None, as_json: bool) -> None:
    """List schedules (next fire, last result); `schedules show NAME` for one."""
    if ctx.invoked_subcommand is not None:
        return
    tw = load_app(config_path, existing=True)
    with errors_to_exit_codes():
        rows = tw.store.list_schedules(include_retired=False)
        if from_parents("as_json", as_json):
            emit_json([schedule_json(tw, row) for row in rows])
            return
        table(
            None,
            ["schedule", "trigger", "tz", "next fire", "last result", "state"],
            [_list_line(tw, row) for row in rows],
        )


def _list_line(tw: Tickwork, row: ScheduleRow) -> tuple[str, ...]:
    """One line of `tickwork schedules`: times in the schedule's zone, with their offset."""
    zone = ScheduleSpec.from_stored(row.spec).tz
    return (
        row.name,
        trigger_text(row.spec),
        str(row.spec.get("tz")),
        local(row.next_fire_at, zone),
        _last_result(tw, row, zone),
        "paused" if row.paused else "active",
    )


@schedules_group.command("list")
@config_option
@json_option
@click.pass_context
def schedules_list(ctx: click.Context, config_path: str | None, as_json: bool) -> None:
    """List schedules."""
    ctx.invoke(schedules_group, config_path=config_path, as_json=as_json)


@schedules_group.command("show")
@click.argument("name")
@click.option("--count", "-n", default=5, show_default=True, type=click.IntRange(1, 1000))
@config_option
@json_option
def schedules_show(name: str, count: int, config_path: str | None, as_json: bool) -> None:
    """One schedule: definition, next fires in its zone and recent runs."""
    tw = load_app(config_path, existing=True)
    with errors_to_exit_codes():
        row = tw.store.get_schedule(name)
        if row is None:
            raise ScheduleNotFoundError(name)
        data = schedule_json(tw, row, count)
        recent = tw.store.list_runs(RunFilter(schedule=name, limit=10))
        if from_parents("as_json", as_json):
            emit_json({**data, "recent_runs": [run_json(r) for r in recent]})
            return
        click.echo(
            f"{row.name}  ({row.source}{', paused' if row.paused else ''}"
            f"{', retired' if row.retired else ''})"
        )
        click.echo(f"  {data['trigger']}  [{data['tz']}]  {data['description']}")
        click.echo(f"  runs: {row.spec.get('task') or row.spec.get('command')}")
        click.echo("  next fires:")
        for fire in data["next_fires"]:
            click.echo(f"    {fire}")
        if recent:
            table(
                "recent runs",
                ["id", "nominal fire (UTC)", "state", "attempt", "finished"],
                [
                    (r.id, local(r.nominal_fire), r.state.value, r.attempt, local(r.finished_at))
                    for r in recent
                ],
            )


def _simple(verb: str, help_text: str) -> click.Command:
    @click.command(verb, help=help_text)
    @click.argument("name")
    @config_option
    @json_option
    def command(name: str, config_path: str | None, as_json: bool) -> None:
        tw = load_app(config_path, existing=True)
        with errors_to_exit_codes():
            if verb == "trigger":
                paused = tw.is_paused(name)
                run = tw.trigger(name)
                if from_parents("as_json", as_json):
                    emit_json({**run_json(run), "schedule_paused": paused})
                else:
                    click.echo(f"run {run.id} of {name} queued (due {local(run.due_at)})")
                    if paused:
                        click.echo(
                            f"note: {name} is paused; only this manual run goes ahead, its "
                            f"fire times stay skipped until `tickwork resume {name}`"
                        )
                return
            row = tw.pause(name) if verb == "pause" else tw.resume(name)
            if from_parents("as_json", as_json):
                emit_json({"name": row.name, "paused": row.paused})
            else:
                click.echo(f"{name} {'paused' if row.paused else 'resumed'}")

    return command


trigger_command = _simple("trigger", "Queue a run of NAME now, outside its schedule.")
pause_command = _simple("pause", "Pause NAME: its fires are recorded as skipped until resumed.")
resume_command = _simple("resume", "Resume a paused schedule.")
