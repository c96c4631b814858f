"""Overdue rule: a schedule that should have succeeded by now and has not (DESIGN.md,
Operating it). Pure: the trigger, instants and a grace in; a decision out.

A schedule is expected to succeed for every fire after ``start`` (its last succeeded nominal
fire, or the instant it was defined, changed or resumed). The first such fire ``F`` is the
one that matters: when ``F + grace <= now`` and ``F`` has no success, the schedule is
overdue since ``F + grace``. The episode is named by ``F`` (alerts are sent once per
episode, not once per later fire); a success at or after ``F`` moves ``start`` on and ends
it. This is the rule of healthchecks' "period + grace", counted in fires of the trigger
instead of a fixed period, so cron gaps (weekends, month ends) need no special grace.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tickwork.triggers import Trigger

__all__ = ["MIN_GRACE", "ONE_OFF_GRACE", "Overdue", "decide_overdue", "default_grace"]

MIN_GRACE = timedelta(minutes=1)
ONE_OFF_GRACE = timedelta(hours=1)  # a one-off ``at`` has no period to derive one from


@dataclass(frozen=True, slots=True)
class Overdue:
    fire: datetime  # the first expected fire with no success: names the episode
    since: datetime  # fire + grace: when the schedule became overdue


def default_grace(trigger: Trigger, fire: datetime) -> timedelta:
    """The grace of ``fire`` when the schedule sets no ``overdue_after``: half the gap to the
    next fire, at least a minute, never more than the gap itself (a run due every 10 s is
    late after 10 s). A fire with no next one (one-off, end of range): an hour."""
    following = trigger.next_after(fire)
    if following is None:
        return ONE_OFF_GRACE
    # In UTC: two datetimes in one zone subtract by wall clock (the hour repeated when DST
    # ends would give a negative period).
    period = following.astimezone(UTC) - fire.astimezone(UTC)
    return min(period, max(MIN_GRACE, period / 2))


def decide_overdue(
    trigger: Trigger,
    *,
    start: datetime,
    now: datetime,
    grace: timedelta | None = None,
    extra: timedelta = timedelta(0),
) -> Overdue | None:
    """Whether the schedule is overdue at ``now``: the first fire strictly after ``start``
    exists, and ``now`` is at least its grace past it. ``grace`` None: ``default_grace``;
    ``extra`` is added to it (the schedule's jitter: its runs are due that much later).
    ``start`` is the last succeeded nominal fire, or the instant from which fires count
    (created, changed, resumed) when that is later."""
    found = trigger.next_after(start)
    if found is None:
        return None
    fire = found.astimezone(UTC)  # arithmetic by instant, not by the zone's wall clock
    due_by = fire + (default_grace(trigger, fire) if grace is None else grace) + extra
    if now < due_by:
        return None
    return Overdue(fire=fire, since=due_by)
