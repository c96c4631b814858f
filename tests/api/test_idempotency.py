"""``Idempotency-Key`` on POSTs: a retried request gets the first answer and changes nothing
again, also when the retries arrive at once; the same key for another request is a
problem."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from tickwork.store.base import RunFilter

from .conftest import Env, api_schedule, is_problem, snapshot

TRIGGER = "/api/v1/schedules/nightly/trigger"


def runs_of(env: Env, name: str = "nightly") -> list[Any]:
    return env.tw.store.list_runs(RunFilter(schedule=name, limit=1000))


def test_a_retried_trigger_creates_no_second_run_and_gets_the_first_answer(env: Env) -> None:
    key = {"Idempotency-Key": "deploy-42"}
    first = env.post(TRIGGER, scope="write", headers=key)
    assert first.status_code == 201
    env.clock.advance(timedelta(seconds=5))
    again = env.post(TRIGGER, scope="write", headers=key)
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert len(runs_of(env)) == 1
    other = env.post(TRIGGER, scope="write", headers={"Idempotency-Key": "deploy-43"})
    assert other.json()["id"] != first.json()["id"]
    assert len(runs_of(env)) == 2


def test_the_same_key_for_another_request_is_422_and_changes_nothing(env: Env) -> None:
    key = {"Idempotency-Key": "k"}
    env.post(TRIGGER, scope="write", headers=key)
    before = snapshot(env.tw)
    doc = is_problem(
        env.post("/api/v1/schedules/failing/trigger", scope="write", headers=key),
        422,
        "Idempotency-Key",
    )
    assert "different request" in doc["detail"]
    assert snapshot(env.tw) == before


def test_keys_belong_to_one_token(env: Env) -> None:
    key = {"Idempotency-Key": "shared"}
    a = env.post(TRIGGER, scope="write", headers=key).json()
    b = env.post(TRIGGER, scope="admin", headers=key).json()
    assert a["id"] != b["id"]


def test_a_refused_request_is_not_remembered(env: Env) -> None:
    key = {"Idempotency-Key": "early"}
    is_problem(env.post("/api/v1/schedules/later/trigger", scope="write", headers=key), 404)
    api_schedule(env, "later")
    response = env.post("/api/v1/schedules/later/trigger", scope="write", headers=key)
    assert response.status_code == 201


def test_simultaneous_triggers_with_one_key_create_one_run(env: Env) -> None:
    n = 8
    start = threading.Barrier(n)

    def send(_: int) -> Any:
        start.wait()
        return env.post(TRIGGER, scope="write", headers={"Idempotency-Key": "race"})

    with ThreadPoolExecutor(n) as pool:
        answers = list(pool.map(send, range(n)))
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    assert len(runs_of(env)) == 1


def test_simultaneous_facade_calls_with_one_key_create_one_run(env: Env) -> None:
    """Below HTTP: eight threads in the store's transaction at once."""
    n = 8
    start = threading.Barrier(n)

    def call(_: int) -> Any:
        start.wait()
        return env.tw.trigger_once(
            "nightly",
            principal="p",
            route="POST t",
            key="race",
            request_hash="h",
            respond=lambda run: (201, {"id": run.id}),
        )

    with ThreadPoolExecutor(n) as pool:
        outcomes = list(pool.map(call, range(n)))
    created = [o.run for o in outcomes if o.run is not None]
    assert len(created) == 1
    replayed = [o.stored for o in outcomes if o.run is None]
    assert all(s is not None and s.body == {"id": created[0].id} for s in replayed)
    assert len(runs_of(env)) == 1


def test_other_posts_replay_their_first_answer(env: Env) -> None:
    body = {"name": "once", "every": "1h", "task": "nightly"}
    key = {"Idempotency-Key": "create-once"}
    first = env.post("/api/v1/schedules", json=body, headers=key)
    assert first.status_code == 201
    again = env.post("/api/v1/schedules", json=body, headers=key)
    assert again.status_code == 201  # not 409: the retry sees what the first call did
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    changed = env.post("/api/v1/schedules", json={**body, "every": "2h"}, headers=key)
    is_problem(changed, 422, "Idempotency-Key")
    run = env.post(TRIGGER, scope="write").json()
    cancel = {"Idempotency-Key": "stop"}
    one = env.post(f"/api/v1/runs/{run['id']}/cancel", scope="write", headers=cancel)
    two = env.post(f"/api/v1/runs/{run['id']}/cancel", scope="write", headers=cancel)
    assert one.status_code == two.status_code == 200
    assert one.json() == two.json()
    is_problem(env.post(f"/api/v1/runs/{run['id']}/cancel", scope="write"), 409, "state")


def test_a_malformed_key_is_a_problem(env: Env) -> None:
    before = snapshot(env.tw)
    for bad in ("", "x" * 201, "with space"):
        response = env.post(TRIGGER, scope="write", headers={"Idempotency-Key": bad})
        is_problem(response, 422, "Idempotency-Key")
    assert snapshot(env.tw) == before


def test_keys_older_than_a_day_are_forgotten_and_can_be_used_again(env: Env) -> None:
    key = {"Idempotency-Key": "daily"}
    first = env.post(TRIGGER, scope="write", headers=key).json()
    env.clock.advance(timedelta(hours=23))
    assert env.tw.forget_idempotency_keys() == 0
    env.clock.advance(timedelta(hours=2))
    assert env.tw.forget_idempotency_keys() == 1
    again = env.post(TRIGGER, scope="write", headers=key).json()
    assert again["id"] != first["id"]
