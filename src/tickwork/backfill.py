"""Backfill: runs for the nominal fires of a schedule in a past range that have none yet.

``plan_backfill`` is pure (the schedule's trigger, the range, ``now``): it lists the fires
and decides how the runs wait. ``run_backfill`` creates them through the store in chunks
(one transaction each), reporting progress; the unique key (schedule, nominal fire) makes a
second backfill of the same range create nothing (promise 1).

How backfill runs overlap (``overlap``):

- ``buffer_all`` (the default): one at a time, oldest fire first. The runs are created
  parked and the scheduler's monitor makes the oldest one due whenever the schedule has
  nothing running, retrying or due; the schedule's own fires keep running in between.
- the schedule's own policy: the runs are due at once and claimed like its own fires, under
  its policy (``allow``: all at once; ``skip``: one runs, the others are recorded skipped).

Any other policy is refused: a run is claimed under its schedule's policy, so a backfill
cannot have a third one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from tickwork import events
from tickwork.errors import InvalidSpecError
from tickwork.model import OverlapPolicy, ScheduleRow
from tickwork.spec import ScheduleSpec
from tickwork.store.ops import OperationsStore
from tickwork.triggers import Trigger
from tickwork.zones import load_zone

__all__ = [
    "DEFAULT_LIMIT",
    "BackfillPlan",
    "BackfillResult",
    "backfill_fires",
    "parse_bound",
    "plan_backfill",
    "run_backfill",
]

log = logging.getLogger("tickwork.backfill")

DEFAULT_LIMIT = 1_000_000  # fires one backfill may create without raising the limit
CHUNK = 1000  # fires per transaction
_INSTANT = "an ISO 8601 instant with offset (2026-03-01T00:00:00+01:00)"
_ZONED = "a local time with an IANA zone (2026-03-01T00:00 Europe/Berlin)"


def _bound_expected(default_tz: ZoneInfo | None) -> str:
    """What ``parse_bound`` accepts: a bare local time only when there is a zone to take."""
    if default_tz is None:
        return f"{_INSTANT} or {_ZONED}"
    local = f"a local time (2026-03-01T00:00, taken in the schedule's zone, {default_tz.key})"
    return f"{_INSTANT}, {_ZONED}, or {local}"


@dataclass(frozen=True, slots=True)
class BackfillPlan:
    schedule: str
    start: datetime
    end: datetime
    fires: tuple[datetime, ...]  # nominal fires in [start, end], oldest first
    overlap: OverlapPolicy
    parked: bool  # fed one at a time by the monitor (buffer_all)


@dataclass(frozen=True, slots=True)
class BackfillResult:
    fires: int
    created: int
    existing: int  # fires that already had a run


def parse_bound(text: str, field: str, default_tz: ZoneInfo | None = None) -> datetime:
    """``--from``/``--to``: an instant with offset, or a local time followed by a zone name
    (``default_tz`` when the text has neither: the schedule's zone). Errors name ``field``."""
    raw = text.strip()
    value, zone = raw, default_tz
    expected = _bound_expected(default_tz)
    if " " in raw:
        value, _, name = raw.rpartition(" ")
        try:
            zone = load_zone(name, field)
        except InvalidSpecError as err:
            raise InvalidSpecError(
                field, text, expected, message=f"--{field} {text!r}: {err.message}"
            ) from None
    try:
        instant = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidSpecError(field, text, expected, message=f"bad --{field} {text!r}") from None
    if instant.tzinfo is None:
        if zone is None:
            raise InvalidSpecError(
                field, text, expected, message=f"--{field} {text!r} has no offset and no zone"
            )
        instant = instant.replace(tzinfo=zone)
    elif " " in raw:
        raise InvalidSpecError(
            field, text, expected, message=f"--{field} {text!r} has both an offset and a zone"
        )
    return instant


def backfill_fires(trigger: Trigger, start: datetime, end: datetime) -> Iterator[datetime]:
    """The nominal fires of ``trigger`` in [start, end], oldest first, in UTC (pure).

    UTC, because two datetimes sharing one zone compare by wall clock, not by instant: in the
    hour repeated when DST ends, 02:56 CEST would sort after 02:00 CET."""
    fire = trigger.next_after(start - timedelta(microseconds=1))
    while fire is not None and fire <= end:
        yield fire.astimezone(UTC)
        fire = trigger.next_after(fire)


def plan_backfill(
    row: ScheduleRow,
    start: datetime,
    end: datetime,
    now: datetime,
    *,
    overlap: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> BackfillPlan:
    """The fires to backfill for ``row`` in [start, end] and how they wait (pure). Raises
    ``InvalidSpecError`` naming the field: an empty or future range, more than ``limit``
    fires, an overlap policy a backfill cannot have."""
    spec = ScheduleSpec.from_stored(row.spec)
    if end < start:
        raise InvalidSpecError(
            "to",
            end.isoformat(),
            f"an instant at or after --from ({start.isoformat()})",
            message=f"--to {end.isoformat()} is before --from {start.isoformat()}",
        )
    if end > now:
        raise InvalidSpecError(
            "to",
            end.isoformat(),
            f"an instant not after now ({now.isoformat(timespec='seconds')})",
            message=f"--to {end.isoformat()} is in the future: backfill covers past fires only "
            "(the scheduler creates the future ones)",
        )
    policy = _overlap(overlap, spec.overlap)
    fires: list[datetime] = []
    for fire in backfill_fires(spec.trigger(row.anchor), start, end):
        if len(fires) >= limit:
            raise InvalidSpecError(
                "limit",
                limit,
                "a limit above the number of fires in the range, or a shorter range",
                message=f"more than {limit:,} fires of {row.name!r} between {start.isoformat()} "
                f"and {end.isoformat()}; narrow the range or raise --limit",
            )
        fires.append(fire)
    return BackfillPlan(
        schedule=row.name,
        start=start,
        end=end,
        fires=tuple(fires),
        overlap=policy,
        parked=policy is OverlapPolicy.buffer_all,
    )


def run_backfill(
    store: OperationsStore,
    plan: BackfillPlan,
    now: datetime,
    *,
    chunk: int = CHUNK,
    progress: Callable[[int, int], None] | None = None,
) -> BackfillResult:
    """Create the plan's runs, ``chunk`` fires per transaction; ``progress(done, total)``
    after each. A crash between chunks leaves the earlier chunks' runs; running the same
    backfill again creates only the rest."""
    created = existing = 0
    total = len(plan.fires)
    for begin in range(0, total, chunk):
        part = plan.fires[begin : begin + chunk]
        result = store.backfill_runs(plan.schedule, part, now, parked=plan.parked)
        created += len(result.created)
        existing += result.existing
        if progress is not None:
            progress(begin + len(part), total)
    log.info(
        "backfill of %s: %s runs created, %s fires had one",
        plan.schedule,
        created,
        existing,
        extra={
            "action": events.BACKFILL_CREATED,
            "schedule": plan.schedule,
            "from": plan.start.isoformat(),
            "to": plan.end.isoformat(),
            "runs_created": created,
            "fires_with_runs": existing,
            "overlap": plan.overlap.value,
        },
    )
    return BackfillResult(fires=total, created=created, existing=existing)


def _overlap(given: str | None, own: OverlapPolicy) -> OverlapPolicy:
    if given is None:
        return OverlapPolicy.buffer_all
    expected = f"buffer_all (one at a time, the default) or the schedule's own {own.value!r}"
    try:
        policy = OverlapPolicy(given)
    except ValueError:
        raise InvalidSpecError("overlap", given, expected) from None
    if policy not in (OverlapPolicy.buffer_all, own):
        raise InvalidSpecError(
            "overlap",
            given,
            expected,
            message=f"--overlap {given}: backfill runs are claimed under the schedule's own "
            f"policy ({own.value}); use buffer_all or {own.value}",
        )
    return policy
