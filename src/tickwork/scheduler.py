"""Scheduler: turns due fire times into runs (or missed/skipped records), exactly once.

``run_once(now)`` is one store transaction (``Store.enqueue_due``); ``plan`` is the pure
decision for one schedule, handed to the store so the decision and its persistence share
that transaction (DESIGN.md, Engine sketch).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from tickwork import events
from tickwork.errors import InvalidSpecError
from tickwork.model import ScheduleRow
from tickwork.policies.catchup import plan_catchup
from tickwork.spec import PlanSpec, ScheduleSpec, trigger_of
from tickwork.store.base import EnqueueResult, FireDecision, Store
from tickwork.triggers import fires_through, jittered

__all__ = ["Scheduler", "first_fire"]

log = logging.getLogger("tickwork.scheduler")


def first_fire(spec: ScheduleSpec | PlanSpec, anchor: datetime, now: datetime) -> datetime | None:
    """The first nominal fire of a new or changed schedule: the first strictly after ``now``.
    (An interval anchored at its creation first fires one period later, as in APScheduler;
    one anchored at a future ``start_at`` fires at ``start_at``.) A one-off ``at`` that passed
    at most ``misfire_grace`` ago still fires: defining it "now" must not lose it."""
    if spec.at is not None:
        return trigger_of(spec, anchor).next_after(now - spec.misfire_grace)
    return trigger_of(spec, anchor).next_after(now)


class Scheduler:
    """Enqueues due runs for up to ``batch`` schedules per pass; cost follows what is due.

    A pass handles at most ``max_fires`` fires of one schedule and stops before the
    schedule that would take it past ``fire_limit`` fires in all: a catch-up after long
    downtime (hundreds of thousands of missed fires to record) is many short transactions,
    with the worker's steps, other processes' writes and a stop request between them.

    A pass that found nothing due learns the next fire (``EnqueueResult.idle_until``); until
    then passes are skipped (no query), except after ``schedules_changed`` (this process
    changed a schedule or was told of a change) and at least every ``recheck``, which is
    how soon a change made by another process is seen (the engine's poll interval)."""

    def __init__(
        self,
        store: Store,
        *,
        batch: int = 500,
        max_fires: int = 1000,
        fire_limit: int = 2000,
        recheck: timedelta = timedelta(seconds=1),
    ) -> None:
        self.store = store
        self.batch = batch
        self.max_fires = max_fires
        self.fire_limit = fire_limit
        self.recheck = recheck
        self._idle: tuple[datetime, datetime] | None = None  # (looked at, nothing due until)
        self._changes = 0  # schedules_changed calls (another thread's)

    def schedules_changed(self) -> None:
        """The next pass looks at the store whatever it learnt of the next fire."""
        self._changes += 1
        self._idle = None

    def run_once(self, now: datetime) -> EnqueueResult:
        idle = self._idle
        if idle is not None and idle[0] <= now < min(idle[1], idle[0] + self.recheck):
            return EnqueueResult(idle_until=idle[1])
        changes = self._changes
        result = self.store.enqueue_due(now, self.batch, self.plan, fire_limit=self.fire_limit)
        # A change announced during the pass may not be in what it read: not learnt then.
        until = result.idle_until
        self._idle = (now, until) if until is not None and changes == self._changes else None
        if result.schedules:
            log.debug(
                "enqueued",
                extra={
                    "action": events.SCHEDULER_TICK,
                    "schedules": result.schedules,
                    "queued": len(result.queued),
                    "missed": result.missed,
                    "skipped": result.skipped,
                    "conflicts": result.conflicts,
                },
            )
        return result

    def plan(self, row: ScheduleRow, now: datetime) -> FireDecision:
        """Fires in [next_fire_at, now] (at most ``max_fires``), split by the catch-up policy;
        a paused schedule records them as skipped."""
        try:
            spec = PlanSpec.from_stored(row.spec)
            trigger = trigger_of(spec, row.anchor)
        except InvalidSpecError as err:  # e.g. a zone gone from the tz database
            log.error(
                "schedule %s cannot be evaluated: %s",
                row.name,
                err,
                extra={"action": "schedule_invalid", "schedule": row.name},
            )
            return FireDecision(next_fire_at=None, last_fire_at=row.last_fire_at)
        fires: list[datetime] = []
        nxt = row.next_fire_at
        if nxt is not None and nxt <= now:
            fires = [nxt, *fires_through(trigger, nxt, now, self.max_fires - 1)]
            nxt = trigger.next_after(fires[-1])
        last = fires[-1] if fires else row.last_fire_at
        if row.paused:
            return FireDecision(
                skip=fires, next_fire_at=nxt, last_fire_at=last, reason="schedule paused"
            )
        plan = plan_catchup(
            fires,
            now,
            spec.catchup,
            grace=spec.misfire_grace,
            window=spec.catchup_window,
            limit=spec.catchup_limit,
            superseded=nxt is not None and nxt <= now,
        )
        return FireDecision(
            queue=[(n, jittered(row.name, n, spec.jitter)) for n in plan.queue],
            miss=plan.miss,
            next_fire_at=nxt,
            last_fire_at=last,
            max_attempts=spec.max_attempts,
            reason=f"missed: no scheduler ran at this fire time (catchup = {spec.catchup.value})",
        )
