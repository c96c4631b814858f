"""Policies: pure functions over frozen data. They decide; the store persists decisions."""

from __future__ import annotations

from tickwork.policies.catchup import CatchupPlan, plan_catchup
from tickwork.policies.overlap import OverlapAction, decide_overlap
from tickwork.policies.retry import RetryPolicy, next_attempt_at

__all__ = [
    "CatchupPlan",
    "OverlapAction",
    "RetryPolicy",
    "decide_overlap",
    "next_attempt_at",
    "plan_catchup",
]
