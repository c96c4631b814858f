"""Schedule definitions: one validator for config tables, decorator arguments and the API.

``validate_schedule(mapping)`` returns the normalised mapping that is stored (JSON-ready) or
raises ``ConfigError`` listing every problem (schedule, key, value, expected).
``ScheduleSpec.from_stored(mapping)`` gives the engine the parsed values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from tickwork.durations import parse_duration
from tickwork.errors import ConfigError, InvalidSpecError
from tickwork.model import CatchupPolicy, OverlapPolicy
from tickwork.policies.retry import RetryPolicy
from tickwork.triggers import Trigger, build_trigger
from tickwork.triggers.cronexpr import parse_cron
from tickwork.zones import load_zone, parse_instant

__all__ = [
    "KEYS",
    "AttemptSpec",
    "PlanSpec",
    "ScheduleSpec",
    "trigger_of",
    "trigger_text",
    "validate_schedule",
    "validate_schedules",
]

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")  # fullmatch: no trailing newline
TASK_RE = re.compile(r"^[A-Za-z_][\w.]*(:[\w.<>]+)?$")  # <locals> for tasks defined in functions

# Upper bounds: attempts and counts are stored in 32-bit integer columns.
MAX_RETRIES = 1000
MAX_CATCHUP_LIMIT = 1_000_000
DEFAULTS: dict[str, Any] = {
    "retries": 0,
    "backoff": "10s",
    "backoff_max": "10m",
    "overlap": OverlapPolicy.skip.value,
    "catchup": CatchupPolicy.latest.value,
    "catchup_limit": 100,
    "misfire_grace": "1m",
    "isolated": False,
    "shell": "/bin/sh",
}

# key -> what is expected, used in error messages and docs/configuration.md
KEYS: dict[str, str] = {
    "name": "a unique name of ASCII letters, digits, '.', '_' or '-', starting with a letter or"
    " digit (at most 200)",
    "cron": "a cron expression such as '0 3 * * *'",
    "every": "a duration such as 15m or 1h30m",
    "at": "an ISO 8601 instant with offset",
    "tz": "an IANA time zone name",
    "task": "'module:function' or the name of a task registered in code",
    "command": "a shell command line",
    "stdin": "text fed to the command's standard input",
    "env": 'a table of NAME = "value" strings',
    "shell": "the shell that runs command (default /bin/sh)",
    "cwd": "a directory to run the command in",
    "user": "the crontab user (recorded; commands run as tickwork's own user)",
    "retries": f"a whole number from 0 to {MAX_RETRIES} (attempts = retries + 1)",
    "backoff": "a duration: the delay before the first retry (doubles each retry)",
    "backoff_max": "a duration: the longest delay between retries",
    "timeout": "a duration: an attempt longer than this is timed out",
    "overlap": "one of " + ", ".join(p.value for p in OverlapPolicy),
    "catchup": "one of " + ", ".join(p.value for p in CatchupPolicy),
    "catchup_window": "a duration: fires older than this are recorded missed",
    "catchup_limit": f"a whole number from 0 to {MAX_CATCHUP_LIMIT}: at most this many missed "
    "fires run (catchup = all)",
    "misfire_grace": "a duration: a fire at most this late is on time, not missed",
    "jitter": "a duration: each fire is delayed by a fixed random share of it",
    "start_at": "an ISO 8601 instant with offset: no fire before it",
    "end_at": "an ISO 8601 instant with offset: no fire after it",
    "isolated": "true or false: run the task in a child process (hard timeout)",
    "overdue_after": "a duration: a fire with no success this long after it is overdue"
    " (default: half the period, 1 minute to 1 period)",
    "description": "free text",
}
_DURATIONS = (
    "backoff",
    "backoff_max",
    "timeout",
    "catchup_window",
    "misfire_grace",
    "jitter",
    "overdue_after",
)
_STRINGS = (
    "cron",
    "every",
    "at",
    "tz",
    "task",
    "command",
    "stdin",
    "shell",
    "cwd",
    "user",
    "description",
)


def validate_schedule(
    raw: Mapping[str, Any], *, default_tz: str = "UTC", where: str | None = None
) -> dict[str, Any]:
    """The normalised stored form of one schedule table, or ``ConfigError``."""
    problems: list[InvalidSpecError] = []
    name = raw.get("name")
    label = where or (f"schedule {name!r}" if isinstance(name, str) else "schedule")

    def problem(key: str, message: str) -> None:
        problems.append(
            InvalidSpecError(
                key,
                raw.get(key),
                KEYS.get(key, "a known key"),
                message=f"{label}, key {key!r}: {message}",
            )
        )

    for key in raw:
        if key not in KEYS:
            problems.append(
                InvalidSpecError(
                    key,
                    raw[key],
                    "one of " + ", ".join(KEYS),
                    message=f"{label}: unknown key {key!r}",
                )
            )
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        problem("name", f"bad name {name!r}" if name is not None else "missing")
    for key in _STRINGS:
        if key in raw and not isinstance(raw[key], str):
            problem(key, f"must be text, got {type(raw[key]).__name__}")
    out: dict[str, Any] = {k: v for k, v in raw.items() if k in KEYS}
    out.setdefault("tz", default_tz)
    for key, value in DEFAULTS.items():
        out.setdefault(key, value)

    def check(key: str, fn: Any) -> None:
        if key in out and out[key] is not None and not any(p.field == key for p in problems):
            try:
                fn(out[key])
            except InvalidSpecError as err:
                problem(key, err.message)

    check("tz", load_zone)
    for key in _DURATIONS:
        check(key, lambda v, k=key: parse_duration(v, k))
    check("every", lambda v: parse_duration(v, "every"))
    check("at", lambda v: parse_instant(v, "at"))
    check("start_at", lambda v: parse_instant(v, "start_at"))
    check("end_at", lambda v: parse_instant(v, "end_at"))
    if isinstance(out.get("cron"), str) and not any(p.field == "cron" for p in problems):
        # Parsed here too, so a bad cron is reported with the other problems; building the
        # trigger below (when nothing else is wrong) finds those that need the zone.
        try:
            parse_cron(out["cron"])
        except InvalidSpecError as err:
            problems.append(
                InvalidSpecError(
                    "cron",
                    err.value,
                    err.expected,
                    message=f"{label}, key 'cron': {err.message}",
                    source=err.source,
                )
            )
    for key, enum in (("overlap", OverlapPolicy), ("catchup", CatchupPolicy)):
        if not isinstance(out.get(key), str) or out[key] not in {p.value for p in enum}:
            problem(key, f"unknown policy {out.get(key)!r}")
    for key, high in (("retries", MAX_RETRIES), ("catchup_limit", MAX_CATCHUP_LIMIT)):
        value = out.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= high:
            problem(key, f"{value!r} is not a whole number from 0 to {high}")
    if not isinstance(out.get("isolated"), bool):
        problem("isolated", f"{out.get('isolated')!r} is not true or false")
    env = out.get("env", {})
    if not isinstance(env, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in env.items()
    ):
        problem("env", "must map names to text values")
    triggers = [key for key in ("cron", "every", "at") if key in out]
    if len(triggers) != 1:
        problems.append(
            InvalidSpecError(
                "trigger",
                ", ".join(triggers) or None,
                "exactly one of cron, every or at",
                message=f"{label}: needs exactly one of 'cron', 'every' or 'at'"
                + (f", got {' and '.join(triggers)}" if triggers else ""),
            )
        )
    if ("task" in out) == ("command" in out):
        problems.append(
            InvalidSpecError(
                "task",
                out.get("task") or out.get("command"),
                "exactly one of task or command",
                message=f"{label}: needs exactly one of 'task' or 'command'",
            )
        )
    elif "task" in out and isinstance(out["task"], str) and not TASK_RE.match(out["task"]):
        problem("task", f"bad task reference {out['task']!r}")
    if out.get("isolated") and "command" in out:
        problem("isolated", "only tasks can be isolated; commands always run in a process")
    if not problems:
        try:
            spec = ScheduleSpec.from_stored(out)
            spec.trigger(anchor=spec.start_at or parse_instant("2000-01-01T00:00:00+00:00"))
        except InvalidSpecError as err:
            key = err.field if err.field in KEYS else ("cron" if "cron" in out else "trigger")
            problems.append(
                InvalidSpecError(
                    key,
                    err.value,
                    err.expected,
                    message=f"{label}, key {key!r}: {err.message}",
                    source=err.source,
                )
            )
    if problems:
        raise ConfigError(problems, source=label)
    return out


def validate_schedules(
    tables: Sequence[object], *, default_tz: str = "UTC", source: str = "config"
) -> list[dict[str, Any]]:
    """Validate every table and check names are unique; all problems reported at once."""
    problems: list[InvalidSpecError] = []
    result: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, table in enumerate(tables):
        if not isinstance(table, Mapping):
            problems.append(
                InvalidSpecError(
                    "schedule", table, "a table", message=f"schedule #{index + 1} is not a table"
                )
            )
            continue
        name = table.get("name")
        if isinstance(name, str):
            if name in seen:  # reported even when the tables have other problems
                problems.append(
                    InvalidSpecError(
                        "name",
                        name,
                        "a name used by one schedule only",
                        message=f"schedule {name!r}: name defined twice",
                    )
                )
            seen.add(name)
        try:
            result.append(validate_schedule(table, default_tz=default_tz))
        except ConfigError as err:
            problems.extend(err.problems)
    if problems:
        raise ConfigError(problems, source=source)
    return result


@dataclass(frozen=True, slots=True)
class ScheduleSpec:
    """The parsed, engine-facing view of a stored schedule mapping."""

    name: str
    cron: str | None
    every: str | None
    at: str | None
    tz: ZoneInfo
    task: str | None
    command: str | None
    stdin: str | None
    env: tuple[tuple[str, str], ...]
    shell: str
    cwd: str | None
    retry: RetryPolicy
    timeout: timedelta | None
    overlap: OverlapPolicy
    catchup: CatchupPolicy
    catchup_window: timedelta | None
    catchup_limit: int
    misfire_grace: timedelta
    jitter: timedelta
    start_at: datetime | None
    end_at: datetime | None
    isolated: bool
    overdue_after: timedelta | None = None  # None: policies.overdue.default_grace

    @staticmethod
    def from_stored(stored: Mapping[str, Any]) -> ScheduleSpec:
        return _parse(_freeze(stored))

    def trigger(self, anchor: datetime | None) -> Trigger:
        return _build(self, anchor)


@dataclass(frozen=True, slots=True)
class AttemptSpec:
    """What one attempt of a stored schedule runs, read without parsing the rest (trigger,
    zone, policies): the worker reads it for every run, and ``ScheduleSpec``'s cache holds
    a few thousand schedules. The same values as those fields of ``ScheduleSpec``."""

    task: str | None
    command: str | None
    stdin: str | None
    env: tuple[tuple[str, str], ...]
    shell: str
    cwd: str | None
    timeout: timedelta | None
    isolated: bool

    @staticmethod
    def from_stored(stored: Mapping[str, Any]) -> AttemptSpec:
        timeout = stored.get("timeout")
        env = stored.get("env")
        return AttemptSpec(
            task=stored.get("task"),
            command=stored.get("command"),
            stdin=stored.get("stdin"),
            env=tuple(sorted(env.items())) if env else (),
            shell=stored.get("shell", DEFAULTS["shell"]),
            cwd=stored.get("cwd"),
            timeout=None if timeout is None else parse_duration(timeout, "timeout"),
            isolated=bool(stored.get("isolated", DEFAULTS["isolated"])),
        )


# The stored keys ``PlanSpec`` reads, in the order ``_parse_plan`` takes their values.
PLAN_KEYS = (
    "cron",
    "every",
    "at",
    "tz",
    "start_at",
    "end_at",
    "retries",
    "catchup",
    "catchup_window",
    "catchup_limit",
    "misfire_grace",
    "jitter",
    "overdue_after",
)


@dataclass(frozen=True, slots=True, eq=False)
class PlanSpec:
    """What the scheduler and the monitor read of a stored schedule at each pass: its
    trigger, catch-up and overdue settings, jitter and attempts. The same values as those
    fields of ``ScheduleSpec``, parsed once per distinct set of these keys rather than per
    schedule (the name, task and command are not among them): ``ScheduleSpec``'s cache holds
    a few thousand schedules, and a pass over more distinct names parsed each one again
    (about 40 µs a schedule); a million per-tenant schedules of a few shapes share a few.
    Compared and hashed by identity: it keys the trigger cache (``trigger_of``) for every
    schedule at every pass, and the parse cache gives equal definitions one object."""

    cron: str | None
    every: str | None
    at: str | None
    tz: ZoneInfo
    start_at: datetime | None
    end_at: datetime | None
    max_attempts: int
    catchup: CatchupPolicy
    catchup_window: timedelta | None
    catchup_limit: int
    misfire_grace: timedelta
    jitter: timedelta
    overdue_after: timedelta | None

    @staticmethod
    def from_stored(stored: Mapping[str, Any]) -> PlanSpec:
        return _parse_plan(tuple(stored.get(key, _ABSENT) for key in PLAN_KEYS))

    def trigger(self, anchor: datetime | None) -> Trigger:
        """The trigger; ``anchor`` matters to an interval only (``every``)."""
        return _build(self, anchor)


def _build(spec: ScheduleSpec | PlanSpec, anchor: datetime | None) -> Trigger:
    """The trigger of either parsed view of a schedule (they share these fields)."""
    return build_trigger(
        cron=spec.cron,
        every=spec.every,
        at=spec.at,
        tz=spec.tz,
        anchor=anchor,
        start_at=spec.start_at,
        end_at=spec.end_at,
    )


def trigger_of(spec: ScheduleSpec | PlanSpec, anchor: datetime) -> Trigger:
    """``spec.trigger(anchor)``, kept. Only an interval reads its anchor: the schedules of
    one cron or one-off definition share one trigger (and its caches) whatever their
    anchors."""
    return _built_trigger(spec, anchor if spec.every is not None else None)


@lru_cache(maxsize=8192)
def _built_trigger(spec: ScheduleSpec | PlanSpec, anchor: datetime | None) -> Trigger:
    return spec.trigger(anchor)


_ABSENT = object()  # a key the stored mapping does not have (its default applies)


@lru_cache(maxsize=4096)
def _parse_plan(values: tuple[Any, ...]) -> PlanSpec:
    # As ``_parse`` reads these keys: the defaults, then what is stored.
    m = {**DEFAULTS, **{k: v for k, v in zip(PLAN_KEYS, values, strict=True) if v is not _ABSENT}}

    def duration(key: str) -> timedelta | None:
        value = m.get(key)
        return None if value is None else parse_duration(value, key)

    def instant(key: str) -> datetime | None:
        value = m.get(key)
        return None if value is None else parse_instant(value, key)

    return PlanSpec(
        cron=m.get("cron"),
        every=m.get("every"),
        at=m.get("at"),
        tz=load_zone(m.get("tz") or "UTC"),
        start_at=instant("start_at"),
        end_at=instant("end_at"),
        max_attempts=int(m["retries"]) + 1,
        catchup=CatchupPolicy(m["catchup"]),
        catchup_window=duration("catchup_window"),
        catchup_limit=int(m["catchup_limit"]),
        misfire_grace=duration("misfire_grace") or timedelta(0),
        jitter=duration("jitter") or timedelta(0),
        overdue_after=duration("overdue_after"),
    )


def _freeze(stored: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(
        sorted(
            (k, tuple(sorted(v.items())) if isinstance(v, Mapping) else v)
            for k, v in stored.items()
        )
    )


@lru_cache(maxsize=4096)
def _parse(frozen: tuple[tuple[str, Any], ...]) -> ScheduleSpec:
    m = {**DEFAULTS, **dict(frozen)}

    def duration(key: str) -> timedelta | None:
        value = m.get(key)
        return None if value is None else parse_duration(value, key)

    def instant(key: str) -> datetime | None:
        value = m.get(key)
        return None if value is None else parse_instant(value, key)

    retries = int(m["retries"])
    return ScheduleSpec(
        name=m["name"],
        cron=m.get("cron"),
        every=m.get("every"),
        at=m.get("at"),
        tz=load_zone(m.get("tz") or "UTC"),
        task=m.get("task"),
        command=m.get("command"),
        stdin=m.get("stdin"),
        env=tuple(m.get("env") or ()),
        shell=m["shell"],
        cwd=m.get("cwd"),
        retry=RetryPolicy(
            max_attempts=retries + 1,
            backoff=duration("backoff") or timedelta(0),
            backoff_max=duration("backoff_max") or timedelta(0),
        ),
        timeout=duration("timeout"),
        overlap=OverlapPolicy(m["overlap"]),
        catchup=CatchupPolicy(m["catchup"]),
        catchup_window=duration("catchup_window"),
        catchup_limit=int(m["catchup_limit"]),
        misfire_grace=duration("misfire_grace") or timedelta(0),
        jitter=duration("jitter") or timedelta(0),
        start_at=instant("start_at"),
        end_at=instant("end_at"),
        isolated=bool(m["isolated"]),
        overdue_after=duration("overdue_after"),
    )


def trigger_text(stored: Mapping[str, Any]) -> str:
    """How a stored schedule's trigger reads in tables: the cron text, every X or at T."""
    if stored.get("cron"):
        return str(stored["cron"])
    if stored.get("every"):
        return f"every {stored['every']}"
    return f"at {stored.get('at')}"
