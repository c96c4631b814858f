"""Crontab files to tickwork schedules: ``parse_crontab`` reads, ``to_toml`` writes.

Pure: text in, data out (no clock or environment access, no file read but the tz database;
``tickwork import-crontab`` in ``tickwork.cli.import_cmd`` reads the crontab). The reference
is crontab(5) as cronie 1.7 and Debian's Vixie cron 3.0 implement it; where they differ,
cronie's line-by-line reading is followed (a bad line is reported, the rest still imports).
A line is either imported as a ``CrontabEntry`` or reported as a ``CrontabProblem`` with its
number: nothing is dropped silently. Decisions:

* Formats. User crontabs: ``m h dom mon dow command``. System crontabs (``/etc/crontab``,
  ``/etc/cron.d/*``): ``m h dom mon dow user command``; the caller says which (``system=``).
  Fields are separated by blanks (spaces, tabs); the command is the rest of the line after
  the blanks that follow the last field. Trailing blanks stay part of the command, and so
  does ``#``: only a line whose first non-blank character is ``#`` is a comment.
* Line endings. Lines end at ``\\n``; one ``\\r`` before it is dropped, so CRLF files read
  like LF files. (cron itself keeps the CR in the command, where the shell sees ``2>&1\\r``;
  that is never what the author meant.) A non-blank last line without a newline is a
  problem: cronie skips it and Debian cron ignores the whole file, so it never ran.
* Environment lines, cronie's grammar: ``NAME = value``, blanks around ``=`` optional; the
  name may be quoted; an unquoted value is trimmed, a value in matching ``'`` or ``"`` keeps
  its blanks; anything after the closing quote makes the line a (failing) job line. Values
  are never expanded (``$HOME`` stays as written). A setting applies to the lines after it;
  the last assignment wins.
  - ``CRON_TZ`` gives the entries after it their ``tz`` (cronie's rule); it is checked with
    ``load_zone``, and while an invalid one is in effect those entries are problems rather
    than silently moved to another zone. ``CRON_TZ`` is not passed in ``env``.
  - ``TZ`` gives ``tz`` too when no ``CRON_TZ`` is set (checked the same way), and stays in
    ``env`` because cron passes it to the job. The entry notes that cron itself schedules in
    the system zone and only passes ``TZ`` on.
  - ``MAILTO`` becomes ``mailto`` (a comment in the output: tickwork sends no mail, alerts
    are webhooks); it is not passed in ``env``. ``MAILTO=""`` (mail off) is kept as ``""``.
  - ``SHELL`` becomes ``shell`` and also stays in ``env``, as cron exports it to the job.
  - Every other ``NAME=value`` goes to ``env`` as written. ``RANDOM_DELAY`` gets a note
    (tickwork's ``jitter`` is the deterministic equivalent).
* Time fields: exactly five, or one of ``@yearly @annually @monthly @weekly @daily @midnight
  @hourly`` (kept as written, case-sensitive as in cron). Each is validated with tickwork's
  own ``CronTrigger`` (so never-firing and reversed-range expressions are problems, see
  CRON_SEMANTICS.md 1-2), and a line cron would reject but tickwork would accept is a
  problem too, because it never ran under cron: tickwork's extensions ``L``, ``W``, ``#``,
  ``?`` and a step without a range (``5/15``). cronie's random ``~`` is a problem (tickwork
  schedules are deterministic). A day-of-week range ending on Sunday (``Wed-Sun``, ``5-0``)
  is a problem: tickwork reads it as running through Sunday (CRON_SEMANTICS.md 1) while
  crons disagree (cronie 1.7 and Debian build an empty set); ``3-7`` says it unambiguously.
  A ``*`` where the user or command should start (a sixth time field) is a problem, as in
  cronie ("bad command").
* ``@reboot`` has no fire time: the line is a problem and its number is in ``reboot_lines``.
* ``%`` (crontab(5)): the first unescaped ``%`` ends the command; the rest is the command's
  standard input, each further ``%`` a newline, with a final newline added when the text does
  not end in one. ``\\%`` is a literal ``%`` (cronie rewrites only that escape; other
  backslashes stay). ``stdin`` holds exactly the text cron would feed the job.
* A command ending in a backslash is a problem: crontab has no line continuation, so cron ran
  only the first line (often a lone ``\\``) and treated the rest as other lines.
* A line that is not valid UTF-8 is a problem (TOML cannot hold it faithfully).
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import tzinfo
from functools import lru_cache

from tickwork.errors import InvalidSpecError
from tickwork.triggers.cron import CronTrigger
from tickwork.triggers.cronexpr import MACROS, WEEKDAYS
from tickwork.zones import load_zone

__all__ = [
    "CrontabEntry",
    "CrontabProblem",
    "CrontabResult",
    "parse_crontab",
    "split_percent",
    "to_toml",
]

_FIELD_NAMES = ("minute", "hour", "day-of-month", "month", "day-of-week")
_FIELD_MAX = {"minute": 59, "hour": 23, "day-of-month": 31, "month": 12, "day-of-week": 6}
_BLANKS = re.compile(r"[ \t]+")
# cronie env.c load_env: a name (bare: no blanks or '='; or quoted), '=', a value (bare and
# trimmed, or quoted with nothing but blanks after the closing quote).
_ENV_LINE = re.compile(
    r"""^[ \t]*
    (?: "(?P<dq_name>[^"=]+)" | '(?P<sq_name>[^'=]+)' | (?P<name>[^\s='"][^\s=]*) )
    \s*=\s*
    (?: "(?P<dq>[^"]*)" | '(?P<sq>[^']*)' | (?P<bare>(?!["']).*?) )
    \s*$""",
    re.VERBOSE,
)
# What crontab(5) accepts in one list item: '*', a number or a three-letter name, or a range,
# with '/step' only after '*' or a range.
_CRON_ITEM = re.compile(
    r"^(?:\*|(?P<lo>[0-9]+|[A-Za-z]{3})(?:-(?P<hi>[0-9]+|[A-Za-z]{3}))?)(?:/(?P<step>[0-9]+))?$"
)
_REBOOT = "@reboot"


@dataclass(frozen=True, slots=True)
class CrontabEntry:
    """One job line that tickwork can run: the data of one ``[[schedule]]`` table.

    ``cron`` is the schedule as written (fields joined by single spaces, or the @macro);
    ``command`` and ``stdin`` are the result of ``%`` processing; ``env`` holds the variables
    the file set above the line (not MAILTO or CRON_TZ); ``user`` is the system crontab's
    user field; ``tz`` the zone from CRON_TZ (or TZ); ``mailto`` the MAILTO in effect;
    ``notes`` are remarks for the person reviewing the import; ``written`` is the command as
    the crontab wrote it, when ``%`` processing changed it.
    """

    line: int
    cron: str
    command: str
    stdin: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    user: str | None = None
    tz: str | None = None
    mailto: str | None = None
    notes: tuple[str, ...] = ()
    written: str | None = None

    @property
    def shell(self) -> str | None:
        """The shell cron would have run the command with, when the file set SHELL."""
        return self.env.get("SHELL")


@dataclass(frozen=True, slots=True)
class CrontabProblem:
    """A line that was not imported: its 1-based number, its text and why."""

    line: int
    text: str
    message: str


@dataclass(frozen=True, slots=True)
class CrontabResult:
    """Entries in file order; every line not imported is in ``problems`` (in file order).

    ``reboot_lines`` lists which of those problems are ``@reboot`` lines.
    """

    entries: tuple[CrontabEntry, ...]
    problems: tuple[CrontabProblem, ...]
    reboot_lines: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class _Zone:
    """A CRON_TZ or TZ setting: where it was set and, if invalid, why."""

    var: str
    name: str
    line: int
    error: str | None


class _Reader:
    """Walks the lines once, carrying the settings in effect."""

    def __init__(self, system: bool) -> None:
        self.system = system
        self.env: dict[str, str] = {}
        self.mailto: str | None = None
        self.cron_tz: _Zone | None = None
        self.tz: _Zone | None = None
        self.entries: list[CrontabEntry] = []
        self.problems: list[CrontabProblem] = []
        self.reboot_lines: list[int] = []

    def problem(self, number: int, text: str, message: str) -> None:
        self.problems.append(CrontabProblem(number, text, message))

    def read(self, number: int, text: str, terminated: bool) -> None:
        if not text.strip() or text.lstrip(" \t").startswith("#"):
            return  # blank or comment
        if _has_surrogates(text):
            self.problem(number, text, "the line is not valid UTF-8; re-encode the file")
            return
        if not terminated:
            self.problem(
                number,
                text,
                "no newline at the end of the file: cron does not run an unterminated last "
                "line (cronie skips it, Debian cron ignores the whole file); end the file "
                "with a newline",
            )
            return
        setting = _parse_env(text)
        if setting is not None:
            self.assign(number, text, *setting)
        else:
            self.job(number, text)

    def assign(self, number: int, text: str, name: str, value: str) -> None:
        if name == "MAILTO":
            self.mailto = value
            return
        if name in ("CRON_TZ", "TZ"):
            zone = None
            if value.strip():
                error = None
                try:
                    _zone(value.strip())
                except InvalidSpecError as err:
                    error = str(err)
                    self.problem(
                        number,
                        text,
                        f"{name}: {err}; the entries after this line are not imported "
                        f"until {name} is set to a valid zone",
                    )
                zone = _Zone(name, value.strip(), number, error)
            if name == "CRON_TZ":
                self.cron_tz = zone
                return
            self.tz = zone
        self.env[name] = value

    def job(self, number: int, text: str) -> None:
        parsed = _split_job(text, self.system)
        if isinstance(parsed, str):
            self.problem(number, text, parsed)
            return
        cron, rest = parsed
        if cron == _REBOOT:
            self.reboot_lines.append(number)
            self.problem(
                number,
                text,
                "@reboot is not supported: tickwork schedules have no boot event; start "
                "this command from the service manager (a systemd unit, the container "
                "entrypoint) instead",
            )
            return
        zone = self.cron_tz or self.tz
        if zone is not None and zone.error is not None:
            self.problem(
                number,
                text,
                f"not imported: {zone.var} set on line {zone.line} is not a valid time zone",
            )
            return
        reason = _schedule_problem(cron, _zone(zone.name) if zone else None)
        if reason is not None:
            self.problem(number, text, reason)
            return
        split = _split_user(rest, self.system)
        if isinstance(split, str):
            self.problem(number, text, split)
            return
        user, raw_command = split
        command, stdin = split_percent(raw_command)
        if not command.strip():
            self.problem(number, text, "the command is empty (nothing before the first '%')")
            return
        if _ends_in_backslash(command):
            self.problem(
                number,
                text,
                "the command ends in a backslash, but crontab has no line continuation: "
                "cron runs only this line and reads the next lines on their own; join the "
                "command into one line",
            )
            return
        notes: list[str] = []
        if zone is not None and zone.var == "TZ":
            notes.append(
                f"tz from TZ={zone.name} (line {zone.line}): cron schedules in the system "
                "zone and only passes TZ to the job (cronie schedules by CRON_TZ); check it"
            )
        if "RANDOM_DELAY" in self.env:
            notes.append(
                f"RANDOM_DELAY={self.env['RANDOM_DELAY']}: cronie delayed each run by up to "
                "that many minutes; tickwork's jitter does this deterministically"
            )
        if stdin is not None:
            notes.append(
                "the command has an unescaped '%': cron runs the text before it and feeds "
                "the rest as stdin (crontab(5)); write '\\%' for a literal %"
            )
        self.entries.append(
            CrontabEntry(
                line=number,
                cron=cron,
                command=command,
                stdin=stdin,
                env=dict(self.env),
                user=user,
                tz=zone.name if zone else None,
                mailto=self.mailto,
                notes=tuple(notes),
                written=raw_command if raw_command != command else None,
            )
        )


def parse_crontab(text: str, *, system: bool) -> CrontabResult:
    """Read crontab ``text``; ``system`` says whether job lines carry a user field.

    Never raises for bad content: every line is either an entry, a setting, a comment or
    blank, or a problem (see the module docstring for the rules).
    """
    lines = text.split("\n")
    terminated_last = lines[-1] == ""
    if terminated_last:
        lines.pop()
    reader = _Reader(system)
    for number, raw in enumerate(lines, start=1):
        line = raw[:-1] if raw.endswith("\r") else raw
        reader.read(number, line, terminated_last or number < len(lines))
    return CrontabResult(tuple(reader.entries), tuple(reader.problems), tuple(reader.reboot_lines))


def split_percent(command: str) -> tuple[str, str | None]:
    """crontab(5) ``%`` handling: the command cron runs and the text it feeds as stdin.

    Follows cronie's do_command.c: in the command part ``\\%`` becomes ``%`` and any other
    backslash stays; the first unescaped ``%`` ends it. In the stdin part each unescaped
    ``%`` becomes a newline, ``\\%`` a ``%``, and a final newline is added when the text does
    not end in one. ``stdin`` is None when the command has no unescaped ``%``.
    """
    out: list[str] = []
    escaped = False
    for index, char in enumerate(command):
        if escaped:
            if char != "%":
                out.append("\\")
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "%":
            return "".join(out), _stdin_text(command[index + 1 :])
        else:
            out.append(char)
    if escaped:
        out.append("\\")
    return "".join(out), None


def _stdin_text(rest: str) -> str:
    # A literal transcription of cronie's loop, quirks included (an escaped backslash
    # re-arms the escape), so the job gets byte for byte what cron would have written.
    out: list[str] = []
    escaped = need_newline = False
    for original in rest:
        char = original
        if escaped:
            if char != "%":
                out.append("\\")
        elif char == "%":
            char = "\n"
        escaped = char == "\\"
        if not escaped:
            out.append(char)
        need_newline = char != "\n"
    if escaped:
        out.append("\\")
    if need_newline:
        out.append("\n")
    return "".join(out)


def _parse_env(text: str) -> tuple[str, str] | None:
    match = _ENV_LINE.match(text)
    if match is None:
        return None
    name = match["dq_name"] or match["sq_name"] or match["name"]
    value = next((v for v in (match["dq"], match["sq"], match["bare"]) if v is not None), "")
    return name, value


def _split_job(text: str, system: bool) -> tuple[str, str] | str:
    """(schedule as written, the rest of the line) or why the line is not a job line."""
    body = text.lstrip(" \t")
    if body.startswith("@"):
        parts = _BLANKS.split(body, maxsplit=1)
        if parts[0] != _REBOOT and parts[0] not in MACROS:
            return (
                f"unknown macro {parts[0]!r}; expected one of @reboot, {', '.join(MACROS)} "
                "(lower case)"
            )
        return parts[0], parts[1] if len(parts) > 1 else ""
    parts = _BLANKS.split(body, maxsplit=5)
    if len(parts) < 5:
        who = " user" if system else ""
        return (
            "not a job line or a NAME=value setting: expected minute hour day-of-month "
            f"month day-of-week{who} command (comments start with '#')"
        )
    return " ".join(parts[:5]), parts[5] if len(parts) > 5 else ""


def _split_user(rest: str, system: bool) -> tuple[str | None, str] | str:
    """(user or None, command as written) or what is missing, after the time fields."""
    if rest.startswith("*"):
        return (
            f"a '*' where the {'user' if system else 'command'} should start: crontab has "
            "exactly 5 time fields (no seconds or year field), and cron rejects this line"
        )
    user: str | None = None
    if system:
        parts = _BLANKS.split(rest, maxsplit=1)
        user, rest = parts[0], parts[1] if len(parts) > 1 else ""
        if not user:
            return "no user field and command after the time fields (system crontab)"
    if not rest.strip():
        return f"no command after the {'user field' if system else 'time fields'}"
    return user, rest


def _schedule_problem(cron: str, tz: tzinfo | None) -> str | None:
    """Why tickwork cannot take ``cron`` as cron ran it, or None."""
    fields = cron.split()
    if "~" in cron:
        return (
            f"schedule {cron!r} uses '~' (cronie picks a random value when it loads the "
            "file): tickwork schedules are deterministic; choose a fixed value (tickwork's "
            "jitter spreads runs deterministically)"
        )
    try:
        if tz is None:
            CronTrigger(cron)
        else:
            CronTrigger(cron, tz)
    except InvalidSpecError as err:
        return f"bad schedule: {err}"
    if len(fields) != 5:
        return None  # a macro, already checked
    for name, text in zip(_FIELD_NAMES, fields, strict=True):
        for item in text.split(","):
            match = _CRON_ITEM.match(item)
            if match is None:
                return (
                    f"{name} field {text!r}: {item!r} is not crontab syntax (L, W, # and ? "
                    "are tickwork extensions cron rejects), so this line never ran under "
                    "cron; write it in tickwork.toml by hand if it should"
                )
            if match["step"] is not None and match["lo"] is not None and match["hi"] is None:
                example = f"{match['lo']}-{_FIELD_MAX[name]}/{match['step']}"
                return (
                    f"{name} field {text!r}: a step without a range ({item!r}) is rejected "
                    f"by cron, so this line never ran; write a range such as {example!r} "
                    "if it should run"
                )
            if name == "day-of-week" and match["hi"] is not None:
                low, high = _weekday(match["lo"]), _weekday(match["hi"])
                if high == 0 and low > 0:
                    return (
                        f"day-of-week range {item!r} ends with Sunday as 0/SUN: tickwork "
                        f"reads it as {low}-7 (through Sunday), but crons differ (cronie 1.7 "
                        "and Debian cron read it as an empty range, so it never matched); "
                        f"write {low}-7 if you mean through Sunday"
                    )
    return None


def _weekday(text: str) -> int:
    return int(text) if text.isdigit() else WEEKDAYS[text.lower()]


@lru_cache(maxsize=64)
def _zone(name: str) -> tzinfo:
    return load_zone(name, "tz")


def _has_surrogates(text: str) -> bool:
    # The CLI decodes with errors="surrogateescape": undecodable bytes become lone surrogates.
    return any("\ud800" <= char <= "\udfff" for char in text)


def _ends_in_backslash(command: str) -> bool:
    stripped = command.rstrip()
    return (len(stripped) - len(stripped.rstrip("\\"))) % 2 == 1


# -- TOML --------------------------------------------------------------------------------

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_TOML_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}
# Words skipped when naming a schedule after its command: shell syntax, wrappers and
# interpreters say little about what a job does.
_NOISE_TEXT = (
    "[ [[ ] ]] ! { } ( ) if then else fi do done for while test cd sudo nice ionice env exec "
    "command source . sh bash dash zsh flock timeout sleep run-parts python python3 perl php "
    "ruby node"
)
_NOISE_WORDS = frozenset(_NOISE_TEXT.split())


def to_toml(result: CrontabResult, source_name: str) -> str:
    """tickwork.toml text: one ``[[schedule]]`` table per entry, problems as comments.

    Keys: name (``line-N-<slug>``, unique), cron, tz, command, stdin, env, shell, user; the
    MAILTO in effect and the entry's notes become comments in its table.
    """
    out = [
        f"# Imported from {_comment(source_name)} by tickwork import-crontab",
        "# Schedules without tz run in the [tickwork] timezone (UTC unless set); cron ran",
        "# them in the system's zone. env holds only what the crontab set: cron also set",
        "# HOME, LOGNAME, SHELL=/bin/sh and a default PATH. user is recorded, not switched to.",
    ]
    taken: set[str] = set()
    for entry in result.entries:
        name = _unique_name(entry, taken)
        out += ["", "[[schedule]]"]
        if entry.mailto is not None:
            out.append(
                f"# MAILTO={_comment(entry.mailto)}: tickwork sends no mail; "
                "configure alert webhooks for failed runs instead"
                if entry.mailto
                else '# MAILTO="": cron mailed nothing for this job'
            )
        for note in entry.notes:
            out += _wrapped(note, "# ", "# ")
        if entry.written is not None:
            out.append(f"# as written in the crontab: {_comment(entry.written)}")
        out.append(f"name = {_string(name)}")
        out.append(f"cron = {_string(entry.cron)}")
        if entry.tz is not None:
            out.append(f"tz = {_string(entry.tz)}")
        out.append(f"command = {_string(entry.command)}")
        if entry.stdin is not None:
            out.append(f"stdin = {_string(entry.stdin)}")
        if entry.env:
            pairs = ", ".join(f"{_key(k)} = {_string(v)}" for k, v in entry.env.items())
            out.append(f"env = {{ {pairs} }}")
        if entry.shell is not None:
            out.append(f"shell = {_string(entry.shell)}")
        if entry.user is not None:
            out.append(f"user = {_string(entry.user)}")
    if result.problems:
        count = len(result.problems)
        out += ["", f"# Not imported: {count} line{'s' if count != 1 else ''}."]
        for problem in sorted(result.problems, key=lambda p: p.line):
            out += _wrapped(problem.message, f"# line {problem.line}: ", "#   ")
            out.append(f"#     {_comment(problem.text)}")
    return "\n".join(out) + "\n"


def _unique_name(entry: CrontabEntry, taken: set[str]) -> str:
    slug = _slug(entry.command)
    base = f"line-{entry.line}-{slug}" if slug else f"line-{entry.line}"
    name, suffix = base, 2
    while name in taken:
        name, suffix = f"{base}-{suffix}", suffix + 1
    taken.add(name)
    return name


def _slug(command: str) -> str:
    """The first telling word of a command: a program or script name, lower case."""
    for token in command.split():
        word = token.strip("\"'`(){};&|")
        if "/" in word:
            word = word.rsplit("/", 1)[1].strip("\"'`(){};&|")
        if (
            not word
            or word.lower() in _NOISE_WORDS
            or word.startswith("-")
            or word.isdigit()
            or any(c in word for c in "$=<>|&*\\%")
        ):
            continue
        slug = re.sub(r"[^a-z0-9._-]+", "-", word.lower()).strip("-._")
        if slug:
            return slug[:40].rstrip("-._")
    return ""


def _string(text: str) -> str:
    """A TOML basic string (TOML 1.0: escape quote, backslash and control characters)."""
    parts: list[str] = []
    for char in text:
        code = ord(char)
        if char in _TOML_ESCAPES:
            parts.append(_TOML_ESCAPES[char])
        elif code < 0x20 or code == 0x7F:
            parts.append(f"\\u{code:04X}")
        elif 0xD800 <= code <= 0xDFFF:
            raise ValueError(f"lone surrogate U+{code:04X} cannot be written to TOML")
        else:
            parts.append(char)
    return '"' + "".join(parts) + '"'


def _wrapped(text: str, first: str, rest: str) -> list[str]:
    lines = textwrap.wrap(
        _comment(text),
        width=96,
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    )
    return lines or [first.rstrip()]


def _key(name: str) -> str:
    return name if _BARE_KEY.match(name) else _string(name)


def _comment(text: str) -> str:
    """``text`` made safe for a TOML comment (no control characters but tab, no surrogates)."""
    return "".join(
        char.encode("unicode_escape").decode("ascii")
        if (ord(char) < 0x20 and char != "\t") or ord(char) == 0x7F or "\ud800" <= char <= "\udfff"
        else char
        for char in text
    )
