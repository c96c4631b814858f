"""Promise 4 under any sequence of fires, claims, outcomes and lost workers: a schedule never
has more runs going than its overlap policy allows, and every fire keeps exactly one row."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from tickwork.model import Outcome, RunState
from tickwork.store import Store
from tickwork.store.base import RunFilter
from tickwork.store.schema import run_events, runs, schedules, workers
from tickwork.store.sql import SQLStore

from .conftest import LEASE, MINUTE, T0, add_schedule, minutely

SECOND = timedelta(seconds=1)
STEPS = st.lists(
    st.sampled_from(["fire", "claim", "claim", "succeed", "retry", "lose-worker", "tick"]),
    max_size=30,
)
POLICIES = st.sampled_from(["skip", "buffer_one", "buffer_all", "cancel_other", "allow"])


def _wipe(store: Store) -> None:
    """Empty every table: each example starts from nothing on the test's database."""
    assert isinstance(store, SQLStore)
    with store._transaction("wipe", write=True) as conn:
        for table in (run_events, runs, schedules, workers):
            conn.execute(delete(table))


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # _wipe resets the store
)
@given(policy=POLICIES, steps=STEPS, retries=st.integers(0, 2))
def test_no_schedule_runs_more_than_its_policy_allows(
    store: Store, policy: str, steps: list[str], retries: int
) -> None:
    _wipe(store)
    add_schedule(store, "a", overlap=policy, retries=retries)
    now = T0
    fired = 0
    for i, step in enumerate(steps):
        running = store.list_runs(RunFilter(states=frozenset({RunState.running})))
        if step == "fire":
            now += MINUTE
            fired += len(store.enqueue_due(now, 10, minutely).queued)
        elif step == "claim":
            store.claim(f"w{i}", now, LEASE, 3)
            waiting = [
                r
                for r in store.list_runs(RunFilter(states=frozenset({RunState.queued})))
                if r.due_at <= now
            ]
            limit = {"skip": 0, "cancel_other": 0, "buffer_one": 1}.get(policy)
            if limit is not None:
                assert len(waiting) <= limit, (policy, waiting)
        elif step in ("succeed", "retry") and running:
            run = running[-1]
            outcome = Outcome(RunState.succeeded if step == "succeed" else RunState.failed)
            retry_at = (
                now + 30 * SECOND if step == "retry" and run.attempt < run.max_attempts else None
            )
            assert store.finish(run.id, run.lease_owner or "", now, outcome, retry_at=retry_at)
        elif step == "lose-worker":
            now += LEASE + SECOND
            store.reclaim_expired(now, 10)
        elif step == "tick":
            now += 30 * SECOND

        all_runs = store.list_runs(RunFilter(limit=10_000))
        going = [r for r in all_runs if r.state is RunState.running]
        if policy != "allow":
            assert len(going) <= 1, going
        assert all(r.attempt <= r.max_attempts for r in all_runs)
        nominal = [r.nominal_fire for r in all_runs]
        assert len(nominal) == len(set(nominal)) == fired  # one row per fire, none lost
