"""The JSON of the API's resources, built from domain objects. A representation depends only
on the stored rows it shows (never on the clock), so its ETag changes exactly when they do."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from tickwork.errors import InvalidSpecError
from tickwork.model import Run, RunEvent, ScheduleRow, WorkerInfo
from tickwork.trigger_views import trigger_view

__all__ = [
    "decode_cursor",
    "encode_cursor",
    "event_json",
    "run_detail_json",
    "run_json",
    "schedule_json",
    "worker_json",
]

OUTCOME_EVENTS = {
    "run_succeeded",
    "run_failed",
    "run_timed_out",
    "run_cancelled",
    "run_retry_scheduled",
    "run_lease_expired",
    "run_released",
}


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def schedule_json(row: ScheduleRow, count: int = 5) -> dict[str, Any]:
    """A schedule with its next ``count`` nominal fires, in its zone (from the stored next
    fire and trigger, so the same row always reads the same)."""
    view = trigger_view(row.spec, row.anchor)  # parsed and described once per definition
    upcoming: list[str] = []
    if not row.retired and row.next_fire_at is not None and count > 0:
        upcoming = list(view.upcoming(row.next_fire_at, count))  # kept per definition
    return {
        "name": row.name,
        "source": row.source,
        "read_only": row.source != "api",
        "paused": row.paused,
        "retired": row.retired,
        "trigger": view.text,
        "tz": row.spec.get("tz"),
        "description": view.description,
        "task": row.spec.get("task"),
        "command": row.spec.get("command"),
        "next_fires": upcoming,
        "last_fire_at": iso(row.last_fire_at),
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
        "version": row.version,
        "spec": row.spec,
    }


def run_json(run: Run) -> dict[str, Any]:
    return {
        "id": run.id,
        "schedule": run.schedule,
        "nominal_fire": iso(run.nominal_fire),
        "idempotency_key": run.idempotency_key,
        "due_at": iso(run.due_at),
        "state": run.state.value,
        "attempt": run.attempt,
        "max_attempts": run.max_attempts,
        "kind": run.kind,
        "lease_owner": run.lease_owner,
        "lease_expires_at": iso(run.lease_expires_at),
        "created_at": iso(run.created_at),
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
        "exit_code": run.exit_code,
        "error": run.error,
    }


def event_json(event: RunEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "at": iso(event.at),
        "event": event.event,
        "state": event.state.value,
        "attempt": event.attempt,
        "detail": event.detail,
    }


def attempts_json(events: list[RunEvent]) -> list[dict[str, Any]]:
    """One entry per attempt: claimed when, by whom, how it ended (from the run's events;
    each attempt's error is kept in its outcome event)."""
    attempts: list[dict[str, Any]] = []
    for event in events:
        if event.event == "run_claimed":
            attempts.append(
                {
                    "attempt": event.attempt,
                    "started_at": iso(event.at),
                    "worker": event.detail.get("worker"),
                    "ended_at": None,
                    "outcome": None,
                    "error": None,
                    "exit_code": None,
                    "duration_s": None,
                }
            )
        elif event.event in OUTCOME_EVENTS and attempts and attempts[-1]["ended_at"] is None:
            attempts[-1].update(
                ended_at=iso(event.at),
                outcome=event.detail.get("outcome", event.state.value),
                error=event.detail.get("error") or event.detail.get("reason"),
                exit_code=event.detail.get("exit_code"),
                duration_s=event.detail.get("duration_s"),
            )
    return attempts


def run_detail_json(run: Run, events: list[RunEvent]) -> dict[str, Any]:
    return {
        **run_json(run),
        "output": run.output,
        "attempts": attempts_json(events),
        "events": [event_json(e) for e in events],
    }


def worker_json(info: WorkerInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "host": info.host,
        "pid": info.pid,
        "version": info.version,
        "roles": info.roles.split(",") if info.roles else [],
        "started_at": iso(info.started_at),
        "heartbeat_at": iso(info.heartbeat_at),
    }


def encode_cursor(kind: str, value: str | int) -> str:
    raw = json.dumps({"k": kind, "v": value}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, kind: str) -> Any:
    """The position in a cursor from ``encode_cursor(kind, ...)``, or ``InvalidSpecError``."""
    expected = "the next_cursor of a previous page of this list"
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidSpecError("cursor", cursor, expected, message="unreadable cursor") from None
    if not isinstance(data, dict) or data.get("k") != kind or "v" not in data:
        raise InvalidSpecError("cursor", cursor, expected, message="a cursor of another list")
    return data["v"]
