"""``tickwork plan``, ``apply``, ``rollback`` and ``revisions [show N]`` (docs/changes.md).

Exit codes: ``plan`` 0 when nothing would change, 1 when something would, 2 on an invalid
config (every problem listed); ``apply`` and ``rollback`` 0 when applied or nothing to do,
1 when a rollback was declined, 2 on invalid input or when ``--expect-revision`` is not the
latest revision (someone applied in between; nothing changed); 3 when the database failed.
"""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from tickwork.cli.common import (
    EXIT_INVALID,
    EXIT_OK,
    EXIT_REPORT,
    config_option,
    emit_json,
    errors_to_exit_codes,
    json_option,
    load_app,
    local,
    table,
)
from tickwork.config import load_config
from tickwork.errors import ConfigError
from tickwork.revisions import plan_json, render_plan, render_revision, revision_json


def _problems_json(err: ConfigError) -> dict[str, object]:
    return {
        "ok": False,
        "problems": [
            {"field": p.field, "value": p.value, "expected": p.expected, "message": str(p)}
            for p in err.problems
        ],
    }


def _invalid(err: ConfigError, as_json: bool) -> NoReturn:
    if as_json:
        emit_json(_problems_json(err))
    else:
        click.echo(str(err), err=True)
    sys.exit(EXIT_INVALID)


@click.command("plan")
@config_option
@json_option
def plan_command(config_path: str | None, as_json: bool) -> None:
    """Show what `tickwork apply` would change: schedules added, changed (field by field,
    with the next 3 fires before and after, in the schedule's zone) and retired.

    Exit 0 when nothing would change, 1 when something would, 2 on an invalid config.
    Only config schedules are managed: code and API schedules are never retired by it.
    """
    try:
        settings = load_config(config_path)
    except ConfigError as err:
        _invalid(err, as_json)
    tw = load_app(config_path)
    try:
        with errors_to_exit_codes():
            try:
                plan = tw.plan_config(settings=settings)
            except ConfigError as err:
                _invalid(err, as_json)
    finally:
        tw.close()
    if as_json:
        emit_json(plan_json(plan))
    else:
        click.echo(render_plan(plan))
    sys.exit(EXIT_OK if plan.empty else EXIT_REPORT)


@click.command("apply")
@config_option
@click.option(
    "--expect-revision",
    type=click.IntRange(0),
    default=None,
    help="Refuse (exit 2, nothing changed) unless this is the latest revision.",
)
@json_option
def apply_command(config_path: str | None, expect_revision: int | None, as_json: bool) -> None:
    """Apply the config's plan as one transaction and record it as a revision."""
    try:
        settings = load_config(config_path)
    except ConfigError as err:
        _invalid(err, as_json)
    tw = load_app(config_path)
    try:
        with errors_to_exit_codes():
            try:
                plan = tw.plan_config(settings=settings)
            except ConfigError as err:
                _invalid(err, as_json)
            revision = tw.apply_plan(plan, source="apply", expect_revision=expect_revision)
    finally:
        tw.close()
    if as_json:
        emit_json({"plan": plan_json(plan), "revision": revision and revision.number})
        return
    click.echo(render_plan(plan))
    click.echo("")
    if revision is None:
        click.echo("Nothing applied: the store already matches the config.")
    else:
        click.echo(f"Applied as revision {revision.number}.")


@click.command("rollback")
@config_option
@click.option(
    "--to",
    "to",
    type=click.IntRange(0),
    default=None,
    help="The revision to return to (default: the one before the latest; 0: before the first).",
)
@click.option("--yes", "-y", is_flag=True, help="Apply without asking.")
@json_option
def rollback_command(config_path: str | None, to: int | None, yes: bool, as_json: bool) -> None:
    """Make the schedule set equal to revision N again, as a new revision.

    Prints the plan and asks before applying (unless --yes). Run history is never touched;
    a restored schedule keeps its anchor and fires strictly after the rollback.
    """
    tw = load_app(config_path, existing=True)
    try:
        with errors_to_exit_codes():
            plan = tw.plan_rollback(to)
            if as_json and not yes:
                emit_json({"plan": plan_json(plan), "revision": None})
                sys.exit(EXIT_OK if plan.empty else EXIT_REPORT)
            if not as_json:
                click.echo(render_plan(plan))
            if plan.empty:
                if not as_json:
                    click.echo("\nNothing to roll back: the schedules already match.")
                else:
                    emit_json({"plan": plan_json(plan), "revision": None})
                return
            if not yes and not click.confirm("\nApply this rollback?", default=False):
                click.echo("Not applied.")
                sys.exit(EXIT_REPORT)
            revision = tw.apply_plan(plan, source="rollback", expect_revision=plan.base_revision)
    finally:
        tw.close()
    if as_json:
        emit_json({"plan": plan_json(plan), "revision": revision and revision.number})
        return
    if revision is None:
        click.echo("Nothing applied: the schedules already match.")
    else:
        target = plan.label.removeprefix("rollback to ")
        click.echo(f"Rolled back to {target} as revision {revision.number}.")


@click.group("revisions", invoke_without_command=True)
@config_option
@click.option("--limit", "-n", default=20, show_default=True, type=click.IntRange(1, 10000))
@json_option
@click.pass_context
def revisions_group(ctx: click.Context, config_path: str | None, limit: int, as_json: bool) -> None:
    """List recorded revisions, newest first (`revisions show N` shows one as a diff)."""
    if ctx.invoked_subcommand is not None:
        return
    tw = load_app(config_path, existing=True)
    try:
        with errors_to_exit_codes():
            found = tw.revisions(limit=limit)
    finally:
        tw.close()
    if as_json:
        emit_json([revision_json(r) for r in found])
        return
    table(
        None,
        ["revision", "applied at", "source", "added", "changed", "retired", "applied by"],
        [
            (
                r.number,
                local(r.applied_at),
                r.source,
                len(r.summary.get("added", [])),
                len(r.summary.get("changed", [])),
                len(r.summary.get("retired", [])),
                r.applied_by,
            )
            for r in found
        ],
    )


@revisions_group.command("show")
@click.argument("number", type=click.IntRange(1))
@config_option
@json_option
def revisions_show_command(number: int, config_path: str | None, as_json: bool) -> None:
    """Show revision NUMBER as a diff of the definitions it changed."""
    tw = load_app(config_path, existing=True)
    try:
        with errors_to_exit_codes():
            revision = tw.revision(number)
    finally:
        tw.close()
    if as_json:
        emit_json(revision_json(revision))
    else:
        click.echo(render_revision(revision))
