"""Overlap policy: what to do with fires that are due while the schedule is busy."""

from __future__ import annotations

from enum import StrEnum

from tickwork.model import OverlapPolicy

__all__ = ["OverlapAction", "decide_overlap"]


class OverlapAction(StrEnum):
    start = "start"  # claim and run it now
    wait = "wait"  # leave it queued; it runs once the schedule is free
    skip = "skip"  # record it as skipped
    cancel_others = "cancel_others"  # cancel the running runs, then start this one


def decide_overlap(policy: OverlapPolicy, busy: int, due: int) -> tuple[OverlapAction, ...]:
    """Actions for ``due`` new fires of one schedule (oldest first) given ``busy`` runs of it
    already running or waiting for a retry.

    ``skip``: start one only when idle, skip the rest. ``buffer_one``: at most one waits
    behind what runs. ``buffer_all``: one at a time, the rest wait in order. ``cancel_other``:
    the newest starts, cancelling what runs and skipping older waiting fires. ``allow``: all
    start. The result has exactly ``due`` actions.
    """
    if due <= 0:
        return ()
    rest = due - 1
    if policy is OverlapPolicy.allow:
        return (OverlapAction.start,) * due
    if policy is OverlapPolicy.cancel_other:
        first = OverlapAction.cancel_others if busy else OverlapAction.start
        return (OverlapAction.skip,) * rest + (first,)
    head = OverlapAction.wait if busy else OverlapAction.start
    if policy is OverlapPolicy.skip:
        return ((OverlapAction.skip if busy else OverlapAction.start),) + (
            OverlapAction.skip,
        ) * rest
    if policy is OverlapPolicy.buffer_one:
        if busy:
            return (OverlapAction.wait,) + (OverlapAction.skip,) * rest
        return (head,) + (OverlapAction.wait,) * min(rest, 1) + (OverlapAction.skip,) * (rest - 1)
    return (head,) + (OverlapAction.wait,) * rest  # buffer_all
