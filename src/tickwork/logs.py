"""Structured logs: JSON lines when stderr is not a terminal, short human lines when it is.
Every record may carry run_id, schedule, attempt, nominal_fire and a stable ``action``."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

__all__ = ["JsonFormatter", "configure_logging"]

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and v is not None}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class HumanFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extra = _fields(record)
        action = extra.pop("action", None)
        stamp = datetime.fromtimestamp(record.created).astimezone().strftime("%H:%M:%S")
        head = f"{stamp} {record.levelname:<7} {action or record.name}"
        tail = " ".join(f"{k}={v}" for k, v in extra.items())
        text = f"{head}  {record.getMessage()}" + (f"  {tail}" if tail else "")
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def configure_logging(level: str = "info", *, json_lines: bool | None = None) -> None:
    """Log tickwork's records to stderr (JSON unless stderr is a terminal)."""
    use_json = not sys.stderr.isatty() if json_lines is None else json_lines
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if use_json else HumanFormatter())
    root = logging.getLogger("tickwork")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
