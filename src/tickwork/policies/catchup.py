"""Catch-up (misfire) policy: which fires found due become runs, which are recorded missed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tickwork.model import CatchupPolicy

__all__ = ["CatchupPlan", "plan_catchup"]


@dataclass(frozen=True, slots=True)
class CatchupPlan:
    queue: tuple[datetime, ...]  # nominal fires that become queued runs, oldest first
    miss: tuple[datetime, ...]  # nominal fires recorded as missed, oldest first


def plan_catchup(
    fires: Sequence[datetime],
    now: datetime,
    policy: CatchupPolicy,
    *,
    grace: timedelta,
    window: timedelta | None = None,
    limit: int = 100,
    superseded: bool = False,
) -> CatchupPlan:
    """Split due nominal ``fires`` (ascending, all <= ``now``) into runs and missed records.

    A fire at most ``grace`` old is on time and always runs. Older fires were missed by
    downtime and follow ``policy`` (DESIGN.md, Catch-up): ``latest`` runs the most recent
    one unless an on-time fire already runs, ``all`` runs up to ``limit`` of them (the
    oldest first; the excess is missed), ``skip`` runs none. Fires older than ``window`` are
    missed whatever the policy. ``superseded`` says a later due fire exists beyond these
    (the scheduler handles long backlogs in batches): then ``latest`` runs none of them.
    Every fire lands in exactly one of the two lists.
    """
    on_time = [f for f in fires if now - f <= grace]
    late = [f for f in fires if now - f > grace]
    queue: list[datetime] = list(on_time)
    eligible = [f for f in late if window is None or now - f <= window]
    if policy is CatchupPolicy.all:
        chosen = eligible[:limit]  # oldest first, up to the bound (DESIGN.md)
    elif policy is CatchupPolicy.latest:
        chosen = eligible[-1:] if eligible and not on_time and not superseded else []
    else:
        chosen = []
    # By instant: fires in one zone sort by wall clock (the hour repeated when DST ends).
    queue = sorted(chosen + queue, key=lambda f: f.astimezone(UTC))
    picked = set(queue)
    return CatchupPlan(queue=tuple(queue), miss=tuple(f for f in fires if f not in picked))
