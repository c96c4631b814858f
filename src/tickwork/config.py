"""Configuration: ``tickwork.toml`` (or ``[tool.tickwork]`` in pyproject.toml), overridden by
``TICKWORK_*`` environment variables. See docs/configuration.md."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
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
}
_ENV = {f"TICKWORK_{key.upper()}": key for key in _SETTINGS}


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    timezone: str = "UTC"
    concurrency: int = 4
    lease: timedelta = timedelta(seconds=30)
    poll_interval: timedelta = timedelta(seconds=1)
    stop_grace: timedelta = timedelta(seconds=30)
    log_level: str = "info"
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
    path: str | os.PathLike[str] | None = None, *, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read and validate the configuration; ``ConfigError`` lists every problem."""
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
    if problems:
        raise ConfigError(problems, source=str(found or "configuration"))
    return Settings(**settings, schedules=tuple(schedules), path=found)


SUPPORTED_DATABASES = ("sqlite", "postgresql")


def runnable_problems(settings: Settings) -> list[InvalidSpecError]:
    """What a valid config still needs before it can run here: a supported database URL and
    importable ``task`` references (``tickwork check`` reports these too)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from tickwork.tasks import TaskRegistry

    problems: list[InvalidSpecError] = []
    expected = "a database URL starting sqlite:/// or postgresql://"
    try:
        backend = make_url(settings.database_url).get_backend_name()
    except ArgumentError:
        backend = None
    if backend not in SUPPORTED_DATABASES:
        problems.append(
            InvalidSpecError(
                "database_url",
                settings.database_url.split("@")[-1],
                expected,
                message=f"[tickwork] database_url: unsupported database {backend or '?'!r}",
            )
        )
    registry = TaskRegistry()
    for spec in settings.schedules:
        if "task" in spec:
            try:
                registry.resolve(spec["task"])
            except InvalidSpecError as err:
                problems.append(
                    InvalidSpecError(
                        "task",
                        spec["task"],
                        err.expected,
                        message=f"schedule {spec['name']!r}, key 'task': {err.message}",
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
            if key in ("lease", "poll_interval", "stop_grace"):
                out[key] = parse_duration(str(value), key, allow_zero=key == "stop_grace")
            elif key == "concurrency":
                number = int(value)
                if number < 1:
                    raise ValueError
                out[key] = number
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
