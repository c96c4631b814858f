"""``tickwork import-crontab FILE``: a user or system crontab as tickwork.toml text.

The parsing rules are in ``tickwork.crontab``; this command reads the file, picks the format,
prints the TOML (or writes it to ``--output``) and reports each line it could not import on
stderr as ``FILE:LINE: message``, followed by a one-line summary.

Format: ``--system`` (job lines carry a user field, ``m h dom mon dow user command``) or
``--user`` (no user field) always win. Without either, FILE is read as a system crontab when
its path says so, and as a user crontab otherwise:

* a file named ``crontab`` directly in a directory named ``etc`` (``/etc/crontab``, or a copy
  such as ``backup/etc/crontab``);
* any file directly in a directory named ``cron.d`` (``/etc/cron.d/certbot``).

The path is the only signal (not the content: a first word such as ``root`` is a legal
command), and stderr says when it chose the system format. Reading a user crontab whose
commands start with ``root`` prints a hint to pass ``--system``. ``-`` reads standard input
as a user crontab unless ``--system`` is given.

Exit codes: 0 every line imported; 1 some lines were not imported (the TOML for the rest is
still written, the problems are on stderr and as comments at the end of the TOML); 2 the
file cannot be read, the output cannot be written, or the arguments are wrong.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from tickwork.crontab import parse_crontab, to_toml

__all__ = ["import_crontab_command", "is_system_crontab_path"]

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_INVALID = 2


def is_system_crontab_path(path: str) -> bool:
    """True for ``.../etc/crontab`` and ``.../cron.d/NAME`` (see the module docstring)."""
    if path == "-":
        return False
    absolute = Path(path).absolute()
    parent = absolute.parent.name
    return parent == "cron.d" or (absolute.name == "crontab" and parent == "etc")


@click.command("import-crontab")
@click.argument("file", type=click.Path(allow_dash=True, path_type=str))
@click.option(
    "--system/--user",
    "system",
    default=None,
    help="System crontab (user field after the time fields) or user crontab. "
    "Default: system for .../etc/crontab and .../cron.d/*, user otherwise.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=str),
    help="Write the TOML to this file instead of standard output.",
)
def import_crontab_command(file: str, system: bool | None, output: str | None) -> None:
    """Turn the crontab FILE into tickwork.toml [[schedule]] tables.

    Every line is either imported or reported with its line number: @reboot, lines cron
    would reject, and expressions tickwork reads differently from cron. Exit 0 when all
    lines were imported, 1 when some were not, 2 when FILE cannot be read.
    """
    source = "<stdin>" if file == "-" else file
    try:
        data = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except OSError as err:
        click.echo(f"error: cannot read {source}: {err.strerror or err}", err=True)
        sys.exit(EXIT_INVALID)
    detected = system is None and is_system_crontab_path(file)
    as_system = detected if system is None else system
    # Undecodable bytes survive as lone surrogates; parse_crontab reports those lines.
    result = parse_crontab(data.decode("utf-8", errors="surrogateescape"), system=as_system)
    text = to_toml(result, source)
    if output is None:
        click.echo(text, nl=False)
    else:
        try:
            Path(output).write_text(text, encoding="utf-8", newline="")
        except OSError as err:
            click.echo(f"error: cannot write {output}: {err.strerror or err}", err=True)
            sys.exit(EXIT_INVALID)
    if detected:
        click.echo(f"{source}: read as a system crontab (user field); --user to override", err=True)
    elif system is None and any(e.command.split()[0] == "root" for e in result.entries):
        click.echo(
            f"{source}: hint: commands start with 'root'; pass --system if this is a system "
            "crontab (with a user field)",
            err=True,
        )
    for problem in result.problems:
        click.echo(f"{source}:{problem.line}: {problem.message}", err=True)
    count, skipped = len(result.entries), len(result.problems)
    click.echo(
        f"{source}: {count} schedule{'s' if count != 1 else ''} imported, "
        f"{skipped} line{'s' if skipped != 1 else ''} not imported",
        err=True,
    )
    sys.exit(EXIT_PROBLEMS if result.problems else EXIT_OK)
