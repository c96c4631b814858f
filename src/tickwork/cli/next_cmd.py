"""``tickwork next``: the next fire instants of an expression (the conformance entry point)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

import click

from tickwork.errors import InvalidSpecError
from tickwork.triggers import Trigger, build_trigger, fires
from tickwork.triggers.describe import describe
from tickwork.zones import load_zone, parse_instant

EXIT_INVALID = 2


def parse_spec(expression: str, tz_name: str, after: datetime) -> Trigger:
    """``every:15m`` and ``at:ISO`` select those triggers; anything else is cron."""
    tz = load_zone(tz_name)
    kind, sep, rest = expression.partition(":")
    if sep and kind.strip() == "every":
        return build_trigger(every=rest.strip(), tz=tz, anchor=after)
    if sep and kind.strip() == "at":
        return build_trigger(at=rest.strip(), tz=tz)
    return build_trigger(cron=expression, tz=tz)


@click.command("next")
@click.argument("expression", required=False)
@click.option("--tz", "tz_name", default="UTC", show_default=True, help="IANA time zone.")
@click.option("--after", help="ISO 8601 instant with offset; default: now.")
@click.option("--count", "-n", default=5, show_default=True, type=click.IntRange(1, 100000))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of ISO 8601 instants.")
@click.option(
    "--schedule",
    "-s",
    "schedule",
    default=None,
    help="A schedule's name: its next fires as stored (or as the config defines it).",
)
@click.option(
    "--config",
    "-c",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="tickwork.toml for --schedule (default: $TICKWORK_CONFIG, ./tickwork.toml).",
)
def next_command(
    expression: str | None,
    tz_name: str,
    after: str | None,
    count: int,
    as_json: bool,
    schedule: str | None,
    config_path: str | None,
) -> None:
    """Print the next fire instants of EXPRESSION strictly after --after.

    EXPRESSION is a cron expression ("0 3 * * *", "@daily", six fields with seconds first),
    "every:15m" or "at:2026-12-24T18:00:00+01:00". Put "--" before an expression that
    starts with "-". With --schedule NAME instead: that schedule's next fires, in its zone
    and in UTC.
    """
    if expression is None and schedule is None:
        click.echo("error: Missing argument 'EXPRESSION' (or --schedule NAME)", err=True)
        sys.exit(EXIT_INVALID)
    if expression is not None and schedule is not None:
        click.echo("error: give an EXPRESSION or --schedule NAME, not both", err=True)
        sys.exit(EXIT_INVALID)
    if schedule is not None:
        from tickwork.cli.schedule_fires import print_schedule_fires

        print_schedule_fires(schedule, config_path, count=count, as_json=as_json)
        return
    assert expression is not None
    try:
        start = parse_instant(after, "after") if after else datetime.now(UTC)
        trigger = parse_spec(expression, tz_name, start)
        tz = load_zone(tz_name)
        found = [fire.astimezone(tz) for fire in fires(trigger, start, count)]
        if not found:
            raise InvalidSpecError(
                "expression",
                expression,
                "an expression with a fire after --after",
                message=f"no fire time after {start.isoformat()}",
            )
    except InvalidSpecError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(EXIT_INVALID)
    if len(found) < count:
        fires_word = "fire" if len(found) == 1 else "fires"
        click.echo(
            f"note: only {len(found)} {fires_word} after {start.isoformat()} "
            f"(asked for {count}): the trigger ends there, or year 9999 is reached",
            err=True,
        )
    if as_json:
        click.echo(json.dumps([fire.isoformat() for fire in found]))
        return
    click.echo(f"{expression}  ({tz_name}): {describe(trigger)}")
    print_fires(found)


def print_fires(found: list[datetime]) -> None:
    """One line per fire: local time with offset and zone abbreviation, then UTC."""
    for fire in found:
        utc = fire.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        click.echo(
            f"  {fire.strftime('%a %Y-%m-%d %H:%M:%S')} {fire.strftime('%z')[:3]}:"
            f"{fire.strftime('%z')[3:]} {fire.tzname():<6}  {utc}"
        )
