"""Catch-up, overlap and retry policies: tables for the cases, hypothesis for invariants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tickwork.model import CatchupPolicy, OverlapPolicy
from tickwork.policies import (
    OverlapAction,
    RetryPolicy,
    decide_overlap,
    next_attempt_at,
    plan_catchup,
)

NOW = datetime(2026, 3, 2, 17, 30, tzinfo=UTC)
HOURLY = [datetime(2026, 3, 2, h, tzinfo=UTC) for h in (13, 14, 15, 16, 17)]
GRACE = timedelta(minutes=1)


def hours(plan_part: tuple[datetime, ...]) -> list[int]:
    return [f.hour for f in plan_part]


@pytest.mark.parametrize(
    ("policy", "window", "limit", "queued", "missed"),
    [
        pytest.param(CatchupPolicy.latest, None, 100, [17], [13, 14, 15, 16], id="latest"),
        pytest.param(CatchupPolicy.all, None, 100, [13, 14, 15, 16, 17], [], id="all"),
        pytest.param(CatchupPolicy.all, None, 2, [13, 14], [15, 16, 17], id="all-bounded"),
        pytest.param(CatchupPolicy.skip, None, 100, [], [13, 14, 15, 16, 17], id="skip"),
        pytest.param(
            CatchupPolicy.all,
            timedelta(hours=2, minutes=30),
            100,
            [15, 16, 17],
            [13, 14],
            id="all-window",
        ),
        pytest.param(
            CatchupPolicy.latest,
            timedelta(minutes=10),
            100,
            [],
            [13, 14, 15, 16, 17],
            id="latest-window-excludes-everything",
        ),
    ],
)
def test_catchup_after_downtime(
    policy: CatchupPolicy,
    window: timedelta | None,
    limit: int,
    queued: list[int],
    missed: list[int],
) -> None:
    plan = plan_catchup(HOURLY, NOW, policy, grace=GRACE, window=window, limit=limit)
    assert (hours(plan.queue), hours(plan.miss)) == (queued, missed)


def test_on_time_fire_always_runs_and_supersedes_latest() -> None:
    fires = [NOW - timedelta(hours=1), NOW]
    plan = plan_catchup(fires, NOW, CatchupPolicy.latest, grace=GRACE)
    assert plan.queue == (NOW,)
    assert plan.miss == (fires[0],)
    skip = plan_catchup(fires, NOW, CatchupPolicy.skip, grace=GRACE)
    assert skip.queue == (NOW,)


def test_superseded_batch_runs_none_of_its_late_fires_under_latest() -> None:
    plan = plan_catchup(HOURLY, NOW, CatchupPolicy.latest, grace=GRACE, superseded=True)
    assert plan.queue == ()
    assert plan.miss == tuple(HOURLY)


@given(
    offsets=st.lists(st.integers(0, 10_000), unique=True, max_size=40),
    policy=st.sampled_from(list(CatchupPolicy)),
    grace=st.integers(0, 600),
    window=st.none() | st.integers(0, 20_000),
    limit=st.integers(0, 50),
)
def test_every_fire_lands_in_exactly_one_list(
    offsets: list[int], policy: CatchupPolicy, grace: int, window: int | None, limit: int
) -> None:
    fires = sorted(NOW - timedelta(seconds=o) for o in offsets)
    plan = plan_catchup(
        fires,
        NOW,
        policy,
        grace=timedelta(seconds=grace),
        window=None if window is None else timedelta(seconds=window),
        limit=limit,
    )
    assert sorted(plan.queue + plan.miss) == fires
    assert not set(plan.queue) & set(plan.miss)
    assert list(plan.queue) == sorted(plan.queue)
    on_time = [f for f in fires if NOW - f <= timedelta(seconds=grace)]
    assert set(on_time) <= set(plan.queue)  # an on-time fire is never recorded missed
    late_queued = [f for f in plan.queue if f not in on_time]
    if policy is CatchupPolicy.skip:
        assert late_queued == []
    if policy is CatchupPolicy.latest:
        assert len(late_queued) <= 1
    if policy is CatchupPolicy.all:
        assert len(late_queued) <= limit


S, W, K, C = (
    OverlapAction.start,
    OverlapAction.wait,
    OverlapAction.skip,
    OverlapAction.cancel_others,
)


@pytest.mark.parametrize(
    ("policy", "busy", "due", "expected"),
    [
        pytest.param(OverlapPolicy.skip, 0, 1, (S,), id="skip-idle"),
        pytest.param(OverlapPolicy.skip, 1, 2, (K, K), id="skip-busy"),
        pytest.param(OverlapPolicy.skip, 0, 3, (S, K, K), id="skip-burst"),
        pytest.param(OverlapPolicy.buffer_one, 1, 3, (W, K, K), id="buffer-one-busy"),
        pytest.param(OverlapPolicy.buffer_one, 0, 3, (S, W, K), id="buffer-one-burst"),
        pytest.param(OverlapPolicy.buffer_all, 1, 3, (W, W, W), id="buffer-all-busy"),
        pytest.param(OverlapPolicy.buffer_all, 0, 3, (S, W, W), id="buffer-all-burst"),
        pytest.param(OverlapPolicy.cancel_other, 1, 1, (C,), id="cancel-busy"),
        pytest.param(OverlapPolicy.cancel_other, 0, 3, (K, K, S), id="cancel-burst"),
        pytest.param(OverlapPolicy.allow, 2, 3, (S, S, S), id="allow"),
        pytest.param(OverlapPolicy.skip, 0, 0, (), id="nothing-due"),
    ],
)
def test_decide_overlap(
    policy: OverlapPolicy, busy: int, due: int, expected: tuple[OverlapAction, ...]
) -> None:
    assert decide_overlap(policy, busy, due) == expected


@given(policy=st.sampled_from(list(OverlapPolicy)), busy=st.integers(0, 5), due=st.integers(0, 20))
def test_overlap_never_exceeds_what_the_policy_allows(
    policy: OverlapPolicy, busy: int, due: int
) -> None:
    actions = decide_overlap(policy, busy, due)
    assert len(actions) == due
    starting = sum(a in (S, C) for a in actions)
    if policy is not OverlapPolicy.allow:
        assert starting <= 1
        assert busy == 0 or policy is OverlapPolicy.cancel_other or starting == 0
    if policy is OverlapPolicy.buffer_one:
        assert actions.count(W) + (busy > 0) + starting <= 2


@given(attempt=st.integers(1, 30), seed=st.text(max_size=20))
def test_backoff_is_capped_deterministic_and_never_negative(attempt: int, seed: str) -> None:
    policy = RetryPolicy(
        max_attempts=50, backoff=timedelta(seconds=10), backoff_max=timedelta(minutes=5)
    )
    first = next_attempt_at(NOW, attempt, policy, seed)
    assert first == next_attempt_at(NOW, attempt, policy, seed)
    delay = first - NOW
    full = min(timedelta(seconds=10) * 2 ** (attempt - 1), timedelta(minutes=5))
    assert full / 2 <= delay <= full


def test_backoff_doubles_without_jitter() -> None:
    policy = RetryPolicy(
        max_attempts=5, backoff=timedelta(seconds=10), backoff_max=timedelta(seconds=60), jitter=0
    )
    delays = [next_attempt_at(NOW, n, policy, "s") - NOW for n in (1, 2, 3, 4)]
    assert delays == [timedelta(seconds=s) for s in (10, 20, 40, 60)]
    assert policy.should_retry(4)
    assert not policy.should_retry(5)
