"""``tickwork run``, ``tickwork check`` and ``tickwork db upgrade``."""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import replace
from datetime import UTC, datetime

import click

from tickwork.app import Tickwork
from tickwork.cli.api_cmd import host_option, port_option, serving
from tickwork.cli.common import (
    EXIT_INVALID,
    config_option,
    emit_json,
    errors_to_exit_codes,
    json_option,
    load_app,
    local,
    table,
)
from tickwork.cli.ops_cmd import db_prune_command
from tickwork.config import load_config, runnable_problems
from tickwork.errors import ConfigError
from tickwork.logs import configure_logging
from tickwork.scheduler import first_fire
from tickwork.spec import ScheduleSpec, trigger_text


def _run(
    config_path: str | None,
    *,
    scheduler: bool,
    worker: bool,
    concurrency: int | None = None,
    require_applied: bool = False,
    shadow: bool | None = None,
    web: tuple[str | None, int | None] | None = None,
) -> None:
    """Run the engine in this thread; with ``web`` = (host, port) also serve the API and
    dashboard (``create_app``) until the engine has drained."""
    tw = load_app(config_path)
    with errors_to_exit_codes():
        missing = runnable_problems(tw.settings)
        if not worker:  # a scheduler-only process never imports tasks
            missing = [p for p in missing if p.field != "task"]
        if missing:
            raise ConfigError(missing, source=str(tw.settings.path or "configuration"))
    if concurrency is not None or shadow:
        settings = replace(tw.settings, concurrency=concurrency or tw.settings.concurrency)
        tw = Tickwork(config=settings, shadow=shadow)
    configure_logging(tw.settings.log_level)
    with errors_to_exit_codes():
        try:
            # Refusals (--require-applied, --shadow on a live database) before any port opens.
            tw.preflight(require_applied=require_applied)
            with serving(tw, *web) if web is not None else nullcontext():
                tw.run(scheduler=scheduler, worker=worker, require_applied=require_applied)
        finally:
            tw.close()


concurrency_option = click.option(
    "--concurrency",
    type=click.IntRange(1, 1024),
    default=None,
    help="Runs executed at once (default: [tickwork] concurrency).",
)


# Deploys (docs/changes.md): --require-applied and --shadow.
require_applied_option = click.option(
    "--require-applied",
    is_flag=True,
    help="Refuse to start (exit 2) when the config differs from the store: apply first.",
)
shadow_option = click.option(
    "--shadow",
    is_flag=True,
    help="Record each run as shadowed with what would have run; execute nothing.",
)


@click.command("run")
@config_option
@concurrency_option
@require_applied_option
@shadow_option
@host_option
@port_option
@click.option(
    "--no-web",
    is_flag=True,
    help="Do not serve the API, dashboard, /health, /ready and /metrics (headless).",
)
def run_command(
    config_path: str | None,
    concurrency: int | None,
    require_applied: bool,
    shadow: bool,
    host: str | None,
    port: int | None,
    no_web: bool,
) -> None:
    """Run scheduler, worker and the HTTP API + dashboard in this process until
    SIGINT/SIGTERM (default 127.0.0.1:8000, [tickwork] api_host/api_port).

    Config schedules are synced into the store first (new, changed, retired), recorded as
    a revision when something changed; with --require-applied a config that differs from
    the store stops the start instead. On a signal no new runs are claimed, running tasks
    get stop_grace, then their leases are released, and then the web server stops.
    """
    _run(
        config_path,
        scheduler=True,
        worker=True,
        concurrency=concurrency,
        require_applied=require_applied,
        shadow=shadow or None,
        web=None if no_web else (host, port),
    )


@click.command("scheduler")
@config_option
@require_applied_option
def scheduler_command(config_path: str | None, require_applied: bool) -> None:
    """Run only the scheduler: turn due fire times into runs (and reap expired leases).

    Any number may run against one database; each fire time still gets one run.
    """
    _run(config_path, scheduler=True, worker=False, require_applied=require_applied)


@click.command("worker")
@config_option
@concurrency_option
@require_applied_option
@shadow_option
def worker_command(
    config_path: str | None, concurrency: int | None, require_applied: bool, shadow: bool
) -> None:
    """Run only a worker: claim due runs and execute them (and reap expired leases)."""
    _run(
        config_path,
        scheduler=False,
        worker=True,
        concurrency=concurrency,
        require_applied=require_applied,
        shadow=shadow or None,
    )


@click.command("workers")
@config_option
@json_option
def workers_command(config_path: str | None, as_json: bool) -> None:
    """The processes registered in the database: host, pid, roles, version, last heartbeat."""
    tw = load_app(config_path, existing=True)
    with errors_to_exit_codes():
        try:
            registered = tw.store.list_workers()
            now = tw.clock.now()  # heartbeats are stamped by the database's clock on PostgreSQL
        finally:
            tw.close()  # every way out, --json's early return included (no pooled connection left)
        stale_after = tw.settings.lease  # heartbeats come every lease / 3
        rows = []
        for info in registered:
            alive = now - info.heartbeat_at <= stale_after
            rows.append((info, alive))
        if as_json:
            emit_json(
                [
                    {
                        "id": i.id,
                        "host": i.host,
                        "pid": i.pid,
                        "version": i.version,
                        "roles": i.roles,
                        "started_at": i.started_at,
                        "heartbeat_at": i.heartbeat_at,
                        "alive": alive,
                    }
                    for i, alive in rows
                ]
            )
            return
        table(
            None,
            ["worker", "host", "pid", "roles", "version", "last seen", "alive"],
            [
                (
                    i.id,
                    i.host,
                    i.pid,
                    i.roles,
                    i.version,
                    local(i.heartbeat_at),
                    "yes" if alive else "no",
                )
                for i, alive in rows
            ],
        )


@click.command("check")
@config_option
@json_option
def check_command(config_path: str | None, as_json: bool) -> None:
    """Validate a configuration; list every problem (exit 2) or each schedule's next fire."""
    try:
        settings = load_config(config_path, import_tasks=True)
        missing = runnable_problems(settings)
        if missing:
            raise ConfigError(missing, source=str(settings.path or "configuration"))
    except ConfigError as err:
        if as_json:
            emit_json(
                {
                    "ok": False,
                    "problems": [
                        {
                            "field": p.field,
                            "value": p.value,
                            "expected": p.expected,
                            "message": str(p),
                        }
                        for p in err.problems
                    ],
                }
            )
        else:
            click.echo(str(err), err=True)
        raise SystemExit(EXIT_INVALID) from None
    now = datetime.now(UTC)
    rows = []
    for stored in settings.schedules:
        spec = ScheduleSpec.from_stored(stored)
        nxt = first_fire(spec, spec.start_at or now, now)
        rows.append(
            (
                stored["name"],
                trigger_text(stored),
                stored["tz"],
                local(nxt, spec.tz),
                stored.get("task") or stored.get("command"),
            )
        )
    if as_json:
        emit_json(
            {
                "ok": True,
                "config": str(settings.path),
                "schedules": [
                    {"name": r[0], "trigger": r[1], "tz": r[2], "next_fire": r[3], "runs": r[4]}
                    for r in rows
                ],
            }
        )
        return
    source = settings.path or "defaults (no config file found)"
    click.echo(f"{source}: ok, {len(rows)} schedule{'s' if len(rows) != 1 else ''}")
    if rows:
        table(None, ["schedule", "trigger", "tz", "next fire", "runs"], rows)


@click.group("db")
def db_group() -> None:
    """Database maintenance."""


@db_group.command("upgrade")
@config_option
def db_upgrade_command(config_path: str | None) -> None:
    """Create or migrate the schema to the latest revision."""
    tw = load_app(config_path)
    with errors_to_exit_codes():
        tw.store  # opening the store runs the migrations  # noqa: B018
        click.echo(f"database at latest revision: {tw.settings.database_url}")
        tw.close()


db_group.add_command(db_prune_command)
