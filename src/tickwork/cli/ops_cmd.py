"""``tickwork backfill``, ``tickwork doctor`` and ``tickwork db prune``."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from tickwork.backfill import CHUNK, DEFAULT_LIMIT, parse_bound
from tickwork.cli.common import (
    EXIT_INVALID,
    EXIT_OK,
    EXIT_REPORT,
    EXIT_UNAVAILABLE,
    config_option,
    emit_json,
    errors_to_exit_codes,
    fail,
    json_option,
    load_app,
    local,
    table,
)
from tickwork.config import load_config
from tickwork.durations import parse_duration
from tickwork.errors import ScheduleNotFoundError
from tickwork.model import OverlapPolicy, ScheduleRow
from tickwork.spec import ScheduleSpec, trigger_text

__all__ = ["backfill_command", "db_prune_command", "doctor_command"]

DRY_RUN_SHOWN = 1000  # fires listed by a human --dry-run (all of them with --json)


def _no_fires_note(row: ScheduleRow, tz: ZoneInfo, start: datetime, end: datetime) -> None:
    """Say why a range holds no fire: an interval counts only from its anchor."""
    what = trigger_text(row.spec)
    why = (
        f"; an interval schedule fires at its anchor + n * every, from {local(row.anchor, tz)}"
        if "every" in row.spec
        else ""
    )
    click.echo(
        f"note: {row.name} ({what}) has no fire from {local(start, tz)} to {local(end, tz)}{why}",
        err=True,
    )


@click.command("backfill")
@click.argument("name")
@click.option(
    "--from",
    "start",
    required=True,
    help="First instant: ISO with offset, local time and zone, or local time (schedule's zone).",
)
@click.option("--to", "end", required=True, help="Last instant, included.")
@click.option(
    "--overlap",
    type=click.Choice([p.value for p in OverlapPolicy]),
    default=None,
    help="buffer_all (default: one run at a time, oldest first) or the schedule's own policy.",
)
@click.option("--dry-run", is_flag=True, help="List the fires and whether each has a run.")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=DEFAULT_LIMIT,
    show_default=True,
    help="Refuse a range with more fires than this.",
)
@config_option
@json_option
def backfill_command(
    name: str,
    start: str,
    end: str,
    overlap: str | None,
    dry_run: bool,
    limit: int,
    config_path: str | None,
    as_json: bool,
) -> None:
    """Create runs for every fire of NAME from --from to --to that has none yet.

    Times are ISO 8601 with an offset (2026-03-01T00:00:00+01:00) or a local time and a
    zone (2026-03-01T00:00 Europe/Berlin); without either, the schedule's zone. Running the
    same backfill again creates nothing twice.
    """
    tw = load_app(config_path, existing=True)
    with errors_to_exit_codes():
        try:
            row = tw.store.get_schedule(name)
            if row is None or row.retired:
                raise ScheduleNotFoundError(name)
            tz = ScheduleSpec.from_stored(row.spec).tz
            plan = tw.plan_backfill(
                name,
                parse_bound(start, "from", tz),
                parse_bound(end, "to", tz),
                overlap=overlap,
                limit=limit,
            )
            if not plan.fires:
                _no_fires_note(row, tz, plan.start, plan.end)
            if dry_run:
                _dry_run(tw.ops_store.runs_at(name, plan.fires), plan.fires, tz, as_json)
                return
            total = len(plan.fires)
            if total > CHUNK and not as_json:
                with _progress() as bar:
                    task = bar.add_task(f"backfill {name}", total=total)
                    result = tw.backfill(
                        plan, progress=lambda done, _total: bar.update(task, completed=done)
                    )
            else:
                result = tw.backfill(plan)
        finally:
            tw.close()
    how = (
        "one at a time, oldest first, as the scheduler releases them"
        if plan.parked
        else f"due now, claimed under the schedule's overlap policy ({plan.overlap.value})"
    )
    if as_json:
        emit_json(
            {
                "schedule": name,
                "from": plan.start,
                "to": plan.end,
                "fires": result.fires,
                "created": result.created,
                "existing": result.existing,
                "overlap": plan.overlap.value,
            }
        )
        return
    click.echo(
        f"backfill {name}: {result.fires} fires from {local(plan.start, tz)} to "
        f"{local(plan.end, tz)}: {result.created} runs created, {result.existing} already had "
        "a run" + (f"; they run {how}" if result.created else "")
    )


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )


def _dry_run(
    existing: Mapping[datetime, object], fires: tuple[datetime, ...], tz: object, as_json: bool
) -> None:
    rows = [(fire, existing.get(fire)) for fire in fires]
    if as_json:
        emit_json(
            [{"fire": fire, "run": None if state is None else str(state)} for fire, state in rows]
        )
        return
    shown = rows[:DRY_RUN_SHOWN]
    table(
        None,
        ["fire", "run"],
        [
            (local(fire, tz), "would create" if state is None else f"has one ({state})")
            for fire, state in shown
        ],
    )
    new = sum(1 for _, state in rows if state is None)
    more = f" (first {DRY_RUN_SHOWN} listed)" if len(rows) > DRY_RUN_SHOWN else ""
    click.echo(f"{len(rows)} fires{more}: {new} would be created, {len(rows) - new} have a run")


@click.command("doctor")
@config_option
@json_option
def doctor_command(config_path: str | None, as_json: bool) -> None:
    """Check the database, clocks, processes, overdue schedules and applied config.

    Exit 0 when everything is OK, 1 when a check found a problem, 3 when the database cannot
    be reached."""
    from tickwork.doctor import diagnose

    with errors_to_exit_codes():
        settings = load_config(config_path)
        diagnosis = diagnose(settings)
    if as_json:
        emit_json(
            {
                "ok": diagnosis.ok,
                "checks": [
                    {"name": c.name, "ok": c.ok, "message": c.message, "fix": c.fix}
                    for c in diagnosis.checks
                ],
            }
        )
    else:
        for check in diagnosis.checks:
            click.echo(check.line())
    if not diagnosis.reachable:
        sys.exit(EXIT_UNAVAILABLE)
    sys.exit(EXIT_OK if diagnosis.ok else EXIT_REPORT)


@click.command("prune")
@click.option(
    "--older-than",
    "older_than",
    default=None,
    help="Delete finished runs older than this duration (default: the retention setting).",
)
@click.option(
    "--batch",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Runs deleted per transaction (short transactions, no long locks).",
)
@config_option
@json_option
def db_prune_command(
    older_than: str | None, batch: int, config_path: str | None, as_json: bool
) -> None:
    """Delete finished runs (and their events) older than a duration, in small batches.

    Waiting and running runs are never deleted; the deleted runs stay counted per schedule
    and state (tw_run_counts), so totals survive."""
    tw = load_app(config_path, existing=True)
    with errors_to_exit_codes():
        try:
            age = _age(older_than, tw.settings.retention)
            cutoff = tw.clock.now() - age
            store = tw.ops_store
            deleted = 0
            while True:
                n = store.prune_batch(cutoff, batch)
                deleted += n
                if n < batch:
                    break
                if sys.stderr.isatty() and not as_json:
                    click.echo(f"\r{deleted} runs deleted...", err=True, nl=False)
        finally:
            tw.close()
    if as_json:
        emit_json({"deleted": deleted, "finished_before": cutoff})
        return
    click.echo(
        f"pruned {deleted} finished runs older than {older_than or _text(age)} "
        f"(finished before {local(cutoff)}); their counts are kept per schedule"
    )


def _age(given: str | None, retention: timedelta) -> timedelta:
    if given is None:
        if retention <= timedelta(0):
            fail(
                "retention is 0 (keep forever) and no --older-than was given; pass "
                "--older-than 30d (a duration) to prune",
                EXIT_INVALID,
            )
        return retention
    return parse_duration(given, "older-than")


def _text(age: timedelta) -> str:
    if age % timedelta(days=1) == timedelta(0):
        return f"{age.days}d"
    return f"{int(age.total_seconds())}s"
