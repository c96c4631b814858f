"""Domain data: policies, run states, schedule definitions as stored, runs and events.

Frozen data only; no I/O and no clock reads. Enum members equal their stored and
configured values (``OverlapPolicy.buffer_one == "buffer_one"``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

__all__ = [
    "TERMINAL_STATES",
    "CatchupPolicy",
    "ClaimedRun",
    "Outcome",
    "OverlapPolicy",
    "Run",
    "RunEvent",
    "RunState",
    "ScheduleRow",
    "WorkerInfo",
    "idempotency_key",
]


class CatchupPolicy(StrEnum):
    """What happens to fire times missed while nothing was running (DESIGN.md, Semantics)."""

    latest = "latest"  # run the most recent missed fire, record the rest as missed
    all = "all"  # run each, oldest first, up to a bound
    skip = "skip"  # record all as missed


class OverlapPolicy(StrEnum):
    """What happens to a fire that becomes due while an earlier run is still going."""

    skip = "skip"  # record the new fire as skipped
    buffer_one = "buffer_one"  # keep one waiting; later fires while one waits are skipped
    buffer_all = "buffer_all"  # keep them all waiting, run one after the other
    cancel_other = "cancel_other"  # cancel the running one, start the new one
    allow = "allow"  # run concurrently


class RunState(StrEnum):
    """queued -> running -> succeeded | failed | timed_out | cancelled, with retrying
    (waiting for backoff) and the terminal records skipped, missed and shadowed."""

    queued = "queued"
    running = "running"
    retrying = "retrying"
    succeeded = "succeeded"
    failed = "failed"
    timed_out = "timed_out"
    cancelled = "cancelled"
    skipped = "skipped"
    missed = "missed"
    shadowed = "shadowed"


TERMINAL_STATES = frozenset(
    {
        RunState.succeeded,
        RunState.failed,
        RunState.timed_out,
        RunState.cancelled,
        RunState.skipped,
        RunState.missed,
        RunState.shadowed,
    }
)
WAITING_STATES = frozenset({RunState.queued, RunState.retrying})


def idempotency_key(schedule: str, nominal_fire: datetime) -> str:
    """``<schedule>@<nominal fire instant, UTC ISO>``: the same on every attempt."""
    return f"{schedule}@{nominal_fire.astimezone(UTC).isoformat()}"


@dataclass(frozen=True, slots=True)
class ScheduleRow:
    """A schedule as stored: its definition (``spec``, the validated config mapping) and
    the engine's bookkeeping."""

    id: int
    name: str
    spec: dict[str, Any]
    source: str  # "config", "code" or "api"
    paused: bool
    retired: bool
    next_fire_at: datetime | None  # nominal; None once the trigger has no further fire
    last_fire_at: datetime | None  # the last nominal fire turned into a run (or a record)
    anchor: datetime  # interval triggers count from here
    created_at: datetime
    updated_at: datetime
    version: int  # bumped on every change (ETags, conditional updates)


@dataclass(frozen=True, slots=True)
class Run:
    id: int
    schedule: str
    schedule_id: int
    nominal_fire: datetime
    due_at: datetime
    state: RunState
    attempt: int
    max_attempts: int
    kind: str  # "schedule", "manual", "backfill"
    lease_owner: str | None
    lease_expires_at: datetime | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    exit_code: int | None
    error: str | None
    output: str | None

    @property
    def idempotency_key(self) -> str:
        return idempotency_key(self.schedule, self.nominal_fire)


@dataclass(frozen=True, slots=True)
class ClaimedRun:
    """A run a worker now holds the lease of, with the definition it must execute."""

    run: Run
    spec: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RunEvent:
    id: int
    run_id: int
    at: datetime
    event: str  # a name from tickwork.events
    state: RunState
    attempt: int
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt did, as an executor reports it."""

    state: RunState  # succeeded, failed, timed_out or cancelled
    exit_code: int | None = None
    error: str | None = None  # message or traceback
    output: str | None = None  # the last 64 KiB of stdout/stderr for subprocesses
    duration: timedelta | None = None


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    id: str
    host: str
    pid: int
    version: str
    roles: str
    started_at: datetime
    heartbeat_at: datetime
