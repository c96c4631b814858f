"""/api/v1/runs (filters, pages), a run's attempts, events and output, cancel (waiting and
running), retry (the same run, the same idempotency key), /api/v1/workers."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

from tickwork.context import TaskContext
from tickwork.model import RunState
from tickwork.testing import run_until_idle

from .conftest import T0, Env, is_problem, snapshot

RUNS = "/api/v1/runs"


def trigger(env: Env, name: str = "nightly") -> dict[str, Any]:
    response = env.post(f"/api/v1/schedules/{name}/trigger", scope="write")
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def ids(page: dict[str, Any]) -> list[int]:
    return [item["id"] for item in page["items"]]


@pytest.mark.parametrize("limit", [1, 3, 4])
def test_walking_every_page_gives_each_run_once_newest_first(env: Env, limit: int) -> None:
    made = []
    for n in range(10):
        made.append(trigger(env, "nightly" if n % 2 else "failing")["id"])
        env.clock.advance(timedelta(seconds=1))
    seen: list[int] = []
    cursor = None
    for _ in range(100):
        page = env.get(f"{RUNS}?limit={limit}" + (f"&cursor={cursor}" if cursor else "")).json()
        assert len(page["items"]) <= limit
        seen += ids(page)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(made, reverse=True)


def test_runs_filter_by_schedule_state_and_nominal_fire(env: Env) -> None:
    first = trigger(env, "failing")
    env.clock.advance(timedelta(minutes=1))
    second = trigger(env, "nightly")
    run_until_idle(env.tw)  # failing fails, nightly succeeds
    env.clock.advance(timedelta(minutes=1))
    third = trigger(env, "nightly")
    assert ids(env.get(f"{RUNS}?schedule=nightly").json()) == [third["id"], second["id"]]
    assert ids(env.get(f"{RUNS}?state=failed").json()) == [first["id"]]
    both = env.get(f"{RUNS}?state=failed&state=queued").json()
    assert ids(both) == [third["id"], first["id"]]
    since = (T0 + timedelta(seconds=30)).isoformat().replace("+", "%2B")
    until = (T0 + timedelta(seconds=90)).isoformat().replace("+", "%2B")
    assert ids(env.get(f"{RUNS}?since={since}&until={until}").json()) == [second["id"]]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("state=exploded", "state"),
        ("since=yesterday", "since"),
        ("until=2026-03-02T12:00:00", "until"),  # no offset: ambiguous
        ("since=9999-12-31T23:59:59-14:00", "since"),  # past year 9999 in UTC
        ("limit=0", "limit"),
        ("cursor=eyJrIjoic2NoZWR1bGVzIiwidiI6ImEifQ", "cursor"),  # a schedules cursor
        ("cursor=eyJrIjoicnVucyIsInYiOiJ4In0", "cursor"),  # a runs cursor without an id
    ],
)
def test_bad_run_filters_are_problems_naming_them(env: Env, query: str, field: str) -> None:
    is_problem(env.get(f"{RUNS}?{query}"), 422, field)


def test_a_run_shows_its_attempts_events_and_output(env: Env) -> None:
    run = trigger(env, "failing")
    run_until_idle(env.tw)
    body = env.get(f"{RUNS}/{run['id']}").json()
    assert body["state"] == "failed"
    assert body["idempotency_key"] == run["idempotency_key"]
    assert [e["event"] for e in body["events"]] == ["run_triggered", "run_claimed", "run_failed"]
    (attempt,) = body["attempts"]
    assert attempt["attempt"] == 1
    assert attempt["outcome"] == "failed"
    assert "boom" in attempt["error"]
    assert attempt["worker"] == "test-worker"
    assert "output" in body


def test_an_unknown_run_is_404_and_ids_are_checked(env: Env) -> None:
    is_problem(env.get(f"{RUNS}/999"), 404, "id")
    is_problem(env.get(f"{RUNS}/0"), 422, "run_id")
    is_problem(env.get(f"{RUNS}/{2**63}"), 422, "run_id")
    is_problem(env.get(f"{RUNS}/abc"), 422, "run_id")
    is_problem(env.post(f"{RUNS}/999/cancel", scope="write"), 404, "id")
    is_problem(env.post(f"{RUNS}/999/retry", scope="write"), 404, "id")


def test_cancelling_a_queued_run_makes_it_cancelled_and_it_never_runs(env: Env) -> None:
    run = trigger(env)
    response = env.post(f"{RUNS}/{run['id']}/cancel", scope="write")
    assert response.status_code == 200
    assert response.json()["state"] == "cancelled"
    run_until_idle(env.tw)
    body = env.get(f"{RUNS}/{run['id']}").json()
    assert body["state"] == "cancelled"
    assert body["attempts"] == []
    assert body["events"][-1]["detail"]["reason"] == "cancelled by write-token"


def test_cancelling_a_running_run_stops_the_attempt_and_drops_its_result(env: Env) -> None:
    started, stopped = threading.Event(), threading.Event()

    def blocker(context: TaskContext) -> None:
        started.set()
        if context.cancelled.wait(30):  # a safety net; the cancel comes much sooner
            stopped.set()

    env.tw.task(blocker, name="blocker", every="1d")
    env.tw.sync()
    run = trigger(env, "blocker")
    engine = env.tw.engine()
    engine.run_once(env.clock.now())  # claims and starts it
    assert started.wait(10)
    assert env.get(f"{RUNS}/{run['id']}").json()["state"] == "running"
    cancelled = env.post(f"{RUNS}/{run['id']}/cancel", scope="write").json()
    assert cancelled["state"] == "cancelled"
    assert cancelled["lease_owner"] is None
    assert engine.worker is not None
    engine.worker.heartbeat_once(env.clock.now())  # refused: the worker stops the attempt
    assert stopped.wait(10)
    assert engine.worker.wait_idle(10)
    body = env.get(f"{RUNS}/{run['id']}").json()
    assert body["state"] == "cancelled"  # the attempt's own outcome was fenced out
    assert body["events"][-1]["event"] == "run_cancelled"
    assert body["events"][-1]["detail"]["was"] == "running"


def test_a_finished_run_cannot_be_cancelled(env: Env) -> None:
    run = trigger(env)
    run_until_idle(env.tw)
    before = snapshot(env.tw)
    doc = is_problem(env.post(f"{RUNS}/{run['id']}/cancel", scope="write"), 409, "state")
    assert doc["errors"][0]["got"] == "succeeded"
    assert snapshot(env.tw) == before


def test_retry_queues_the_same_run_again_with_one_more_attempt(env: Env) -> None:
    run = trigger(env, "failing")
    run_until_idle(env.tw)
    assert env.get(f"{RUNS}/{run['id']}").json()["state"] == "failed"
    env.clock.advance(timedelta(minutes=5))
    retried = env.post(f"{RUNS}/{run['id']}/retry", scope="write").json()
    assert retried["id"] == run["id"]
    assert retried["state"] == "queued"
    assert retried["idempotency_key"] == run["idempotency_key"]
    assert retried["max_attempts"] == 2
    assert retried["finished_at"] is None
    run_until_idle(env.tw)
    body = env.get(f"{RUNS}/{run['id']}").json()
    assert body["state"] == "failed"
    assert [a["attempt"] for a in body["attempts"]] == [1, 2]
    assert "run_retry_requested" in [e["event"] for e in body["events"]]
    assert len(env.get(f"{RUNS}?schedule=failing").json()["items"]) == 1


@pytest.mark.parametrize("state", ["queued", "succeeded"])
def test_retry_of_a_waiting_or_succeeded_run_is_409(env: Env, state: str) -> None:
    run = trigger(env)
    if state == "succeeded":
        run_until_idle(env.tw)
    before = snapshot(env.tw)
    doc = is_problem(env.post(f"{RUNS}/{run['id']}/retry", scope="write"), 409, "state")
    assert doc["errors"][0]["got"] == state
    assert snapshot(env.tw) == before
    assert RunState(state) is not RunState.failed


def test_workers_lists_registered_processes(env: Env) -> None:
    assert env.get("/api/v1/workers").json() == {"items": []}
    env.tw.register("scheduler,worker")
    (worker,) = env.get("/api/v1/workers").json()["items"]
    assert worker["id"] == "test-worker"
    assert worker["roles"] == ["scheduler", "worker"]
    assert worker["heartbeat_at"] == T0.isoformat()
