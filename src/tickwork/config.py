"""Configuration: ``tickwork.toml`` (or ``[tool.tickwork]`` in pyproject.toml), overridden by
``TICKWORK_*`` environment variables. See docs/configuration.md."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from tickwork.durations import parse_duration
from tickwork.errors import ConfigError, InvalidSpecError
from tickwork.spec import validate_schedules
from tickwork.zones import load_zone

__all__ = [
    "DEFAULT_DATABASE_URL",
    "Settings",
    "environment_settings",
    "find_config",
    "load_config",
    "runnable_problems",
    "task_problems",
]

DEFAULT_DATABASE_URL = "sqlite:///tickwork.db"

_SETTINGS: dict[str, str] = {
    "database_url": "a database URL: sqlite:///path/to/file.db",
    "timezone": "an IANA time zone name, the default tz of schedules",
    "concurrency": "a whole number >= 1: runs executed at once by one worker",
    "lease": "a duration: how long a claimed run stays leased without a heartbeat",
    "poll_interval": "a duration: the longest the loop sleeps",
    "stop_grace": "a duration: how long running tasks get on SIGTERM/SIGINT",
    "log_level": "debug, info, warning or error",
    "api_host": "a host name or address the HTTP API and dashboard listen on",
    "api_port": "a TCP port number from 1 to 65535",
    "api_threads": "a whole number >= 1: threads that answer a web process's requests at once",
    "api_auth": "'token' (bearer tokens with scopes) or 'none' (local development only)",
    "api_commands": "true or false: whether the API may create schedules that run a command",
    "metrics_auth": "true or false: whether /metrics needs a token with the read scope",
    "webhook_url": "an http:// or https:// URL that receives alert POSTs",
    "webhook_secret": "a string: the HMAC-SHA256 key that signs alert POSTs",
    "pause_after_failures": "a whole number >= 0: pause a schedule after N failures in a row"
    " (0: never)",
    "retention": "a duration: finished runs older than this are pruned (0: keep forever)",
    "metrics_schedules": "a whole number >= 0: schedules that get their own run duration and"
    ' lag series in this process\'s metrics; the others share schedule="_other"',
}
_ENV = {f"TICKWORK_{key.upper()}": key for key in _SETTINGS}
# Whole-number settings: (lowest, highest or None).
_WHOLE: dict[str, tuple[int, int | None]] = {
    "concurrency": (1, None),
    "api_port": (1, 65535),
    "api_threads": (1, None),
    "pause_after_failures": (0, None),
    "metrics_schedules": (0, None),
}


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    timezone: str = "UTC"
    concurrency: int = 4
    lease: timedelta = timedelta(seconds=30)
    poll_interval: timedelta = timedelta(seconds=1)
    stop_grace: timedelta = timedelta(seconds=30)
    log_level: str = "info"
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_threads: int = 2
    api_auth: str = "token"
    api_commands: bool = False
    metrics_auth: bool = False
    webhook_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)  # never logged
    pause_after_failures: int = 0
    retention: timedelta = timedelta(days=30)
    metrics_schedules: int = 1000
    schedules: tuple[dict[str, Any], ...] = ()
    path: Path | None = None  # the file read, if any


def find_config(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """``explicit``, else $TICKWORK_CONFIG, else ./tickwork.toml, else ./pyproject.toml when it
    has a [tool.tickwork] table."""
    if explicit is not None:
        return Path(explicit)
    if os.environ.get("TICKWORK_CONFIG"):
        return Path(os.environ["TICKWORK_CONFIG"])
    if Path("tickwork.toml").is_file():
        return Path("tickwork.toml")
    pyproject = Path("pyproject.toml")
    if pyproject.is_file():
        try:
            if "tickwork" in tomllib.loads(pyproject.read_text()).get("tool", {}):
                return pyproject
        except (tomllib.TOMLDecodeError, OSError):
            return None
    return None


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    import_tasks: bool = False,
) -> Settings:
    """Read and validate the configuration; ``ConfigError`` lists every problem. With
    ``import_tasks`` (``tickwork check``) the problems also include each schedule's string
    ``task`` that cannot be imported, even when other keys are invalid."""
    env = os.environ if environ is None else environ
    found = find_config(path)
    data: dict[str, Any] = _read(found) if found is not None else {}
    problems: list[InvalidSpecError] = []
    if found is not None and found.name == "pyproject.toml":
        root = data.get("tool", {}).get("tickwork", {})
        raw_settings = {k: v for k, v in root.items() if k != "schedule"}
        tables = root.get("schedule", [])
    else:
        raw_settings = dict(data.get("tickwork", {}))
        tables = data.get("schedule", [])
        for key in data:
            if key not in ("tickwork", "schedule"):
                problems.append(
                    InvalidSpecError(
                        key,
                        data[key],
                        "a [tickwork] table and [[schedule]] tables",
                        message=f"unknown top-level key {key!r}",
                    )
                )
    origin = {key: f"${var}" for var, key in _ENV.items() if var in env}
    for var, key in _ENV.items():
        if var in env:
            raw_settings[key] = env[var]
    settings = _settings(raw_settings, problems, origin)
    if not isinstance(tables, list):
        problems.append(
            InvalidSpecError(
                "schedule",
                tables,
                "[[schedule]] tables",
                message="'schedule' must be an array of tables",
            )
        )
        tables = []
    schedules: list[dict[str, Any]] = []
    try:
        schedules = validate_schedules(
            tables, default_tz=settings.get("timezone", "UTC"), source=str(found or "config")
        )
    except ConfigError as err:
        problems.extend(err.problems)
    if import_tasks and problems:
        url = settings.get("database_url", DEFAULT_DATABASE_URL)
        if isinstance(url, str):
            problems.extend(_database_problems(url))
        problems.extend(task_problems(tables))
    if problems:
        raise ConfigError(problems, source=str(found or "configuration"))
    return Settings(**settings, schedules=tuple(schedules), path=found)


SUPPORTED_DATABASES = ("sqlite", "postgresql")


def runnable_problems(settings: Settings) -> list[InvalidSpecError]:
    """What a valid config still needs before it can run here: a supported database URL and
    importable ``task`` references (``tickwork check`` reports these too)."""
    return _database_problems(settings.database_url) + task_problems(settings.schedules)


def _database_problems(database_url: str) -> list[InvalidSpecError]:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    problems: list[InvalidSpecError] = []
    expected = "a database URL starting sqlite:/// or postgresql://"
    try:
        backend = make_url(database_url).get_backend_name()
    except ArgumentError:
        backend = None
    if backend not in SUPPORTED_DATABASES:
        problems.append(
            InvalidSpecError(
                "database_url",
                database_url.split("@")[-1],
                expected,
                message=f"[tickwork] database_url: unsupported database {backend or '?'!r}",
            )
        )
    return problems


def task_problems(tables: Iterable[object]) -> list[InvalidSpecError]:
    """One problem per schedule table whose ``task`` is a string that cannot be imported; the
    tables need not be valid otherwise (``tickwork check`` lists every problem at once)."""
    from tickwork.tasks import TaskRegistry

    registry = TaskRegistry()
    problems: list[InvalidSpecError] = []
    for index, table in enumerate(tables):
        if not isinstance(table, Mapping) or not isinstance(table.get("task"), str):
            continue
        name = table.get("name")
        label = f"schedule {name!r}" if isinstance(name, str) else f"schedule #{index + 1}"
        try:
            registry.resolve(table["task"])
        except InvalidSpecError as err:
            problems.append(
                InvalidSpecError(
                    "task",
                    table["task"],
                    err.expected,
                    message=f"{label}, key 'task': {err.message}",
                )
            )
    return problems


def environment_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """The defaults overridden by ``TICKWORK_*`` variables, without reading any file."""
    env = os.environ if environ is None else environ
    problems: list[InvalidSpecError] = []
    origin = {key: f"${var}" for var, key in _ENV.items() if var in env}
    settings = _settings(
        {key: env[var] for var, key in _ENV.items() if var in env}, problems, origin
    )
    if problems:
        raise ConfigError(problems, source="environment")
    return Settings(**settings)


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            [
                InvalidSpecError(
                    "config", str(path), "an existing TOML file", message=f"no such file: {path}"
                )
            ],
            source=str(path),
        ) from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(
            [
                InvalidSpecError(
                    "config", str(path), "valid TOML", message=f"{path} is not valid TOML: {err}"
                )
            ],
            source=str(path),
        ) from None


def _settings(
    raw: Mapping[str, Any], problems: list[InvalidSpecError], origin: Mapping[str, str]
) -> dict[str, Any]:
    """Parsed settings; a problem names where the value came from ($TICKWORK_X or the file)."""
    out: dict[str, Any] = {}

    def bad(key: str, message: str) -> None:
        where = origin.get(key, f"[tickwork] {key}")
        problems.append(
            InvalidSpecError(
                key,
                raw.get(key),
                _SETTINGS.get(key, "a known setting"),
                message=f"{where}: {message}",
            )
        )

    for key, value in raw.items():
        if key not in _SETTINGS:
            problems.append(
                InvalidSpecError(
                    key,
                    value,
                    "one of " + ", ".join(_SETTINGS),
                    message=f"[tickwork]: unknown setting {key!r}",
                )
            )
            continue
        try:
            if key in ("lease", "poll_interval", "stop_grace", "retention"):
                zero_ok = key in ("stop_grace", "retention")
                if zero_ok and str(value).strip() == "0":
                    out[key] = timedelta(0)
                else:
                    out[key] = parse_duration(str(value), key, allow_zero=zero_ok)
            elif key in _WHOLE:
                number = _whole(value)
                low, high = _WHOLE[key]
                if number < low or (high is not None and number > high):
                    raise ValueError
                out[key] = number
            elif key in ("api_commands", "metrics_auth"):
                out[key] = _flag(value)
            elif key == "api_auth":
                if str(value).lower() not in ("token", "none"):
                    raise ValueError
                out[key] = str(value).lower()
            elif key in ("api_host", "webhook_secret"):
                if not isinstance(value, str) or not value.strip():
                    raise ValueError
                out[key] = value
            elif key == "webhook_url":
                if not isinstance(value, str) or not value.startswith(("http://", "https://")):
                    raise ValueError
                out[key] = value
            elif key == "timezone":
                load_zone(str(value), key)
                out[key] = str(value)
            elif key == "log_level":
                if str(value).lower() not in ("debug", "info", "warning", "error"):
                    raise ValueError
                out[key] = str(value).lower()
            else:
                if not isinstance(value, str) or "://" not in value:
                    raise ValueError
                out[key] = value
        except InvalidSpecError as err:
            bad(key, err.message)
        except (TypeError, ValueError):
            bad(key, f"bad value {value!r}")
    return out


def _whole(value: Any) -> int:
    """A whole number from TOML (int) or the environment (str); bools and floats refused."""
    if isinstance(value, bool | float):
        raise ValueError
    return int(str(value).strip())


def _flag(value: Any) -> bool:
    """true/false from TOML, or true/false/1/0/yes/no from the environment."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise ValueError
