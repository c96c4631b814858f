"""``tickwork next --schedule NAME``: a schedule's next fires, from the store or the config.

Kept apart from ``next_cmd`` so that ``tickwork next EXPRESSION`` never imports the engine.
"""

from __future__ import annotations

import json
import sys

import click

from tickwork.cli.common import EXIT_REPORT, errors_to_exit_codes, load_app
from tickwork.cli.next_cmd import print_fires
from tickwork.errors import ScheduleNotFoundError
from tickwork.scheduler import first_fire
from tickwork.spec import ScheduleSpec, trigger_text
from tickwork.triggers import fires
from tickwork.triggers.describe import describe


def print_schedule_fires(name: str, config_path: str | None, *, count: int, as_json: bool) -> None:
    """The stored schedule ``name`` (its anchor and next fire as the engine has them); a
    schedule only in the config (not applied yet) as it would fire once applied now."""
    tw = load_app(config_path)
    try:
        with errors_to_exit_codes():
            row = tw.store.get_schedule(name)
            now = tw.clock.now()
            if row is not None and not row.retired:
                stored, where = row.spec, f"stored, {row.source}"
                found = tw.next_fires(name, count)
                anchor = row.anchor
            else:
                table = next((s for s in tw.settings.schedules if s["name"] == name), None)
                if table is None:
                    raise ScheduleNotFoundError(name)
                stored, where = table, "config, not applied yet"
                spec = ScheduleSpec.from_stored(table)
                anchor = spec.start_at or now.replace(microsecond=0)
                first = first_fire(spec, anchor, now)
                later = list(fires(spec.trigger(anchor), first, count - 1)) if first else []
                found = [f.astimezone(spec.tz) for f in ([first] if first else []) + later]
    finally:
        tw.close()
    spec = ScheduleSpec.from_stored(stored)
    if as_json:
        click.echo(json.dumps([f.isoformat() for f in found]))
        return
    if not found:
        click.echo(f"{name}: no further fire time", err=True)
        sys.exit(EXIT_REPORT)
    click.echo(
        f"{name}  {trigger_text(stored)}  ({stored.get('tz', 'UTC')}; {where}): "
        f"{describe(spec.trigger(anchor))}"
    )
    print_fires(found)
