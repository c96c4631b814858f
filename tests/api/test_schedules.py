"""/api/v1/schedules and /api/v1/preview: list, pages, filters, show, create, replace,
delete, pause, resume; what a schedule may run; config schedules stay read-only; every
refusal is a problem naming the field and changes nothing stored."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from .conftest import Env, api_schedule, is_problem, snapshot

BASE = "/api/v1/schedules"


def names(items: list[dict[str, Any]]) -> list[str]:
    return [item["name"] for item in items]


def test_list_shows_every_source_by_name(env: Env) -> None:
    api_schedule(env, "reminder")
    body = env.get(BASE).json()
    assert names(body["items"]) == ["failing", "from-config", "nightly", "reminder"]
    assert {i["name"]: i["source"] for i in body["items"]} == {
        "failing": "code",
        "from-config": "config",
        "nightly": "code",
        "reminder": "api",
    }
    assert body["next_cursor"] is None


def test_filters_by_source_paused_and_prefix(env: Env) -> None:
    api_schedule(env, "reminder")
    env.post(f"{BASE}/nightly/pause", scope="write")
    assert names(env.get(f"{BASE}?source=api").json()["items"]) == ["reminder"]
    assert names(env.get(f"{BASE}?paused=true").json()["items"]) == ["nightly"]
    assert names(env.get(f"{BASE}?prefix=f").json()["items"]) == ["failing", "from-config"]
    env.delete(f"{BASE}/reminder")
    assert names(env.get(f"{BASE}?source=api").json()["items"]) == []
    retired = env.get(f"{BASE}?source=api&include_retired=true").json()["items"]
    assert [(i["name"], i["retired"]) for i in retired] == [("reminder", True)]


@pytest.mark.parametrize("limit", [1, 2, 3, 7])
def test_walking_every_page_gives_each_schedule_once(env: Env, limit: int) -> None:
    for n in range(9):
        api_schedule(env, f"s{n}")
    seen: list[str] = []
    cursor = None
    for _ in range(100):
        query = f"?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        page = env.get(BASE + query).json()
        assert len(page["items"]) <= limit
        seen += names(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(["failing", "from-config", "nightly", *[f"s{n}" for n in range(9)]])


def test_a_page_walk_survives_schedules_added_and_deleted_meanwhile(env: Env) -> None:
    for n in range(6):
        api_schedule(env, f"s{n}")
    first = env.get(f"{BASE}?limit=4&prefix=s").json()
    assert names(first["items"]) == ["s0", "s1", "s2", "s3"]
    env.delete(f"{BASE}/s1")  # already seen
    api_schedule(env, "s0a")  # sorts before the cursor: not in later pages
    api_schedule(env, "s9")  # after it: in them
    rest = env.get(f"{BASE}?limit=4&prefix=s&cursor={first['next_cursor']}").json()
    assert names(rest["items"]) == ["s4", "s5", "s9"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=many", "limit"),
        ("cursor=%%%", "cursor"),
        ("cursor=eyJrIjoicnVucyIsInYiOjF9", "cursor"),  # a cursor of the runs list
        ("source=yaml", "source"),
        ("paused=perhaps", "paused"),
    ],
)
def test_bad_list_parameters_are_problems_naming_them(env: Env, query: str, field: str) -> None:
    doc = is_problem(env.get(f"{BASE}?{query}"), 422, field)
    assert doc["errors"][0]["got"] is not None


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (f"{BASE}?prefix=a%00", "prefix"),
        (f"{BASE}/night%00ly", "name"),
        ("/api/v1/runs?schedule=night%00ly", "schedule"),
    ],
)
def test_a_nul_character_in_a_parameter_is_a_problem_naming_it(
    env: Env, path: str, field: str
) -> None:
    """PostgreSQL's text cannot hold one: the driver raised and the API answered 500."""
    doc = is_problem(env.get(path), 422, field)
    assert doc["retryable"] is False
    assert env.get(BASE).status_code == 200  # nothing else is disturbed


def test_show_has_the_next_fires_in_the_schedules_zone(env: Env) -> None:
    body = env.get(f"{BASE}/nightly?count=3").json()
    assert body["next_fires"] == [
        "2026-03-03T03:00:00+01:00",
        "2026-03-04T03:00:00+01:00",
        "2026-03-05T03:00:00+01:00",
    ]
    assert body["description"] == "At 03:00, every day"
    assert body["read_only"] is True
    assert body["tz"] == "Europe/Berlin"


def test_show_of_an_unknown_schedule_is_404_naming_it(env: Env) -> None:
    doc = is_problem(env.get(f"{BASE}/ghost"), 404, "name")
    assert doc["errors"][0]["got"] == "ghost"


def test_create_stores_a_schedule_owned_by_the_api(env: Env) -> None:
    created = api_schedule(env, "reminder", every="30m", retries=2)
    assert created["source"] == "api"
    assert created["read_only"] is False
    assert created["next_fires"][:2] == ["2026-03-02T12:30:00+00:00", "2026-03-02T13:00:00+00:00"]
    row = env.tw.store.get_schedule("reminder")
    assert row is not None
    assert row.source == "api"
    assert row.spec["retries"] == 2
    assert env.get(f"{BASE}/reminder").json() == created


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"name": "x", "cron": "61 * * * *", "task": "nightly"}, ["cron"]),
        ({"name": "x", "every": "soon", "task": "nightly"}, ["every"]),
        ({"name": "x", "cron": "* * * * *", "tz": "Mars/Olympus", "task": "nightly"}, ["tz"]),
        ({"name": "x", "task": "nightly"}, ["trigger"]),
        ({"name": "x", "every": "1h"}, ["task"]),
        ({"name": "bad name", "every": "1h", "task": "nightly"}, ["name"]),
        ({"every": "1h", "task": "nightly"}, ["name"]),
        ({"name": "x", "every": "1h", "task": "nightly", "retries": -1}, ["retries"]),
        ({"name": "x", "every": "1h", "task": "nightly", "colour": "red"}, ["colour"]),
        ({"name": "x", "every": "1h", "task": "nightly", "jitter": "99999999d"}, ["jitter"]),
        ({"name": "x", "every": "1h", "task": "nightly", "retries": 10**30}, ["retries"]),
        ({"name": "x", "at": "0001-01-01T00:00:00+14:00", "task": "nightly"}, ["at"]),
        (
            {"name": "x", "every": "1h", "task": "nightly", "overlap": "x", "tz": 3},
            ["overlap", "tz"],
        ),
    ],
    ids=[
        "cron",
        "every",
        "tz",
        "no-trigger",
        "no-task",
        "name",
        "no-name",
        "retries",
        "unknown",
        "long-jitter",
        "huge-retries",
        "at-before-year-1",
        "two",
    ],
)
def test_invalid_definitions_are_422_naming_each_field_and_store_nothing(
    env: Env, body: dict[str, Any], fields: list[str]
) -> None:
    before = snapshot(env.tw)
    doc = is_problem(env.post(BASE, json=body), 422, *fields)
    assert doc["retryable"] is False
    assert snapshot(env.tw) == before


@pytest.mark.parametrize(
    "raw", [b"{", b"[1, 2]", b'"text"', b"null"], ids=["truncated", "list", "string", "null"]
)
def test_a_body_that_is_not_a_json_object_is_a_problem(env: Env, raw: bytes) -> None:
    before = snapshot(env.tw)
    response = env.post(BASE, content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code in (400, 422)
    is_problem(response, response.status_code)
    assert snapshot(env.tw) == before


def test_malformed_json_names_the_body_the_position_and_a_json_object(env: Env) -> None:
    before = snapshot(env.tw)
    response = env.post(BASE, content=b"{name: x", headers={"Content-Type": "application/json"})
    doc = is_problem(response, 400, "body")
    [error] = doc["errors"]
    assert error["field"] == "body"
    assert error["expected"] == "a JSON object"
    assert "at character 1" in error["message"]
    assert "double quotes" in error["message"]  # what the parser wanted there
    assert snapshot(env.tw) == before


def test_a_task_not_registered_in_code_is_refused_403(env: Env) -> None:
    before = snapshot(env.tw)
    body = {"name": "x", "every": "1h", "task": "os:system"}
    doc = is_problem(env.post(BASE, json=body), 403, "task")
    assert "registered" in doc["detail"]
    assert "nightly" in doc["errors"][0]["expected"]
    assert snapshot(env.tw) == before


def test_a_command_is_refused_403_unless_the_config_allows_it(env: Env) -> None:
    body = {"name": "shell", "every": "1h", "command": "echo hi"}
    before = snapshot(env.tw)
    doc = is_problem(env.post(BASE, json=body), 403, "command")
    assert "api_commands" in doc["detail"]
    assert snapshot(env.tw) == before
    env.tw.settings = replace(env.tw.settings, api_commands=True)
    assert env.post(BASE, json=body, scope="write").status_code == 403  # admin only
    created = env.post(BASE, json=body)
    assert created.status_code == 201, created.text
    assert created.json()["command"] == "echo hi"


def test_a_name_another_source_owns_is_409(env: Env) -> None:
    before = snapshot(env.tw)
    body = {"name": "nightly", "every": "1h", "task": "nightly"}
    is_problem(env.post(BASE, json=body), 409, "name")
    api_schedule(env, "reminder")
    before = snapshot(env.tw)
    is_problem(env.post(BASE, json={**body, "name": "reminder"}), 409, "name")
    assert snapshot(env.tw) == before


@pytest.mark.parametrize("name", ["from-config", "nightly"])
def test_config_and_code_schedules_are_read_only_but_pausable_and_triggerable(
    env: Env, name: str
) -> None:
    before = snapshot(env.tw)
    body = {"name": name, "every": "1h", "task": "nightly"}
    doc = is_problem(env.put(f"{BASE}/{name}", json=body), 403, "name")
    assert "source of truth" in doc["detail"]
    is_problem(env.delete(f"{BASE}/{name}"), 403, "name")
    assert snapshot(env.tw) == before
    assert env.post(f"{BASE}/{name}/pause", scope="write").json()["paused"] is True
    assert env.post(f"{BASE}/{name}/resume", scope="write").json()["paused"] is False
    assert env.post(f"{BASE}/{name}/trigger", scope="write").status_code == 201


def test_replace_changes_the_definition_and_keeps_the_anchor(env: Env) -> None:
    created = api_schedule(env, "reminder", every="1h")
    env.clock.advance(timedelta(minutes=10))
    body = {"name": "reminder", "every": "2h", "task": "nightly"}
    replaced = env.put(f"{BASE}/reminder", json=body)
    assert replaced.status_code == 200, replaced.text
    data = replaced.json()
    assert data["version"] == created["version"] + 1
    assert data["trigger"] == "every 2h"
    assert data["next_fires"][0] == "2026-03-02T14:00:00+00:00"  # anchored at 12:00
    unchanged = env.put(f"{BASE}/reminder", json=body).json()
    assert unchanged["version"] == data["version"]


def test_replace_refuses_a_body_naming_another_schedule(env: Env) -> None:
    api_schedule(env, "reminder")
    before = snapshot(env.tw)
    body = {"name": "other", "every": "2h", "task": "nightly"}
    is_problem(env.put(f"{BASE}/reminder", json=body), 422, "name")
    is_problem(env.put(f"{BASE}/ghost", json={**body, "name": "ghost"}), 404, "name")
    assert snapshot(env.tw) == before


def test_if_match_with_a_stale_etag_is_412_and_changes_nothing(env: Env) -> None:
    api_schedule(env, "reminder")
    etag = env.get(f"{BASE}/reminder").headers["etag"]
    env.post(f"{BASE}/reminder/pause", scope="write")
    before = snapshot(env.tw)
    body = {"name": "reminder", "every": "2h", "task": "nightly"}
    is_problem(env.put(f"{BASE}/reminder", json=body, headers={"If-Match": etag}), 412, "If-Match")
    is_problem(env.delete(f"{BASE}/reminder", headers={"If-Match": etag}), 412, "If-Match")
    assert snapshot(env.tw) == before
    fresh = env.get(f"{BASE}/reminder").headers["etag"]
    ok = env.put(f"{BASE}/reminder", json=body, headers={"If-Match": fresh})
    assert ok.status_code == 200


def test_delete_retires_the_schedule_and_keeps_its_runs(env: Env) -> None:
    api_schedule(env, "reminder")
    run = env.post(f"{BASE}/reminder/trigger", scope="write").json()
    response = env.delete(f"{BASE}/reminder")
    assert response.status_code == 204
    assert response.headers["cache-control"] == "no-store"
    assert env.get(f"{BASE}/reminder").json()["retired"] is True
    assert env.get(f"/api/v1/runs/{run['id']}").status_code == 200
    is_problem(env.delete(f"{BASE}/reminder"), 404, "name")
    is_problem(env.post(f"{BASE}/reminder/trigger", scope="write"), 404, "name")
    again = api_schedule(env, "reminder")  # a retired API name can be created again
    assert again["retired"] is False


def test_pause_and_resume_of_an_unknown_schedule_are_404(env: Env) -> None:
    before = snapshot(env.tw)
    for verb in ("pause", "resume", "trigger"):
        is_problem(env.post(f"{BASE}/ghost/{verb}", scope="write"), 404, "name")
    assert snapshot(env.tw) == before


# -- preview -----------------------------------------------------------------------------


def test_preview_gives_fires_in_the_zone_and_the_description(env: Env) -> None:
    body = env.get("/api/v1/preview?cron=30+2+*+*+*&tz=Europe/Berlin&count=3").json()
    assert body["description"] == "At 02:30, every day"
    # 2026-03-29 02:30 does not exist in Berlin; not in this window anyway.
    assert body["fires"] == [
        "2026-03-03T02:30:00+01:00",
        "2026-03-04T02:30:00+01:00",
        "2026-03-05T02:30:00+01:00",
    ]
    every = env.get("/api/v1/preview?every=90m&count=2").json()
    assert every["fires"] == ["2026-03-02T13:30:00+00:00", "2026-03-02T15:00:00+00:00"]
    once = env.get("/api/v1/preview?at=2026-03-02T13:00:00%2B00:00").json()
    assert once["fires"] == ["2026-03-02T13:00:00+00:00"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("cron=61+*+*+*+*", "cron"),
        ("cron=*+*+*+*+*&every=1h", "trigger"),
        ("", "trigger"),
        ("every=1h&tz=Nowhere/City", "tz"),
        ("at=tomorrow", "at"),
        ("cron=*+*+*+*+*&count=0", "count"),
        ("cron=*+*+*+*+*&count=101", "count"),
    ],
)
def test_preview_errors_name_the_field_and_the_expected_form(
    env: Env, query: str, field: str
) -> None:
    doc = is_problem(env.get(f"/api/v1/preview?{query}"), 422, field)
    assert all(e["expected"] for e in doc["errors"])


def test_preview_reports_every_bad_parameter_at_once(env: Env) -> None:
    doc = is_problem(
        env.get("/api/v1/preview?cron=61%20*%20*%20*%20*&tz=Nope/Zone&count=-1"),
        422,
        "cron",
        "tz",
        "count",
    )
    expected = {e["field"]: e["expected"] for e in doc["errors"]}
    assert expected == {
        "cron": "0-59",
        "tz": "an IANA time zone name",
        "count": "a whole number from 1 to 100",
    }


def test_fires_due_before_a_change_or_delete_are_accounted_for_first(env: Env) -> None:
    """Promise 2: changing or deleting a schedule while its fires wait (no scheduler ran)
    records them under the old definition instead of losing them."""
    api_schedule(env, "reminder", every="1h", catchup="all")
    env.clock.advance(timedelta(hours=3, minutes=30))  # fires at 13:00, 14:00, 15:00 due
    body = {"name": "reminder", "every": "2h", "task": "nightly"}
    assert env.put(f"{BASE}/reminder", json=body).status_code == 200
    runs = env.get("/api/v1/runs?schedule=reminder").json()["items"]
    assert sorted(r["nominal_fire"] for r in runs) == [
        "2026-03-02T13:00:00+00:00",
        "2026-03-02T14:00:00+00:00",
        "2026-03-02T15:00:00+00:00",
    ]
    env.clock.advance(timedelta(hours=2))  # 16:00 (every 2h from 12:00) is due
    assert env.delete(f"{BASE}/reminder").status_code == 204
    runs = env.get("/api/v1/runs?schedule=reminder").json()["items"]
    assert runs[0]["nominal_fire"] == "2026-03-02T16:00:00+00:00"


@pytest.mark.parametrize("key", [None, "trigger-paused-1"])
def test_trigger_of_a_paused_schedule_runs_and_says_it_is_paused(env: Env, key: str | None) -> None:
    headers = {} if key is None else {"Idempotency-Key": key}
    running = env.post(f"{BASE}/nightly/trigger", scope="write", headers=headers)
    assert running.json()["schedule_paused"] is False
    env.post(f"{BASE}/nightly/pause", scope="write")
    headers = {} if key is None else {"Idempotency-Key": f"{key}-again"}
    paused = env.post(f"{BASE}/nightly/trigger", scope="write", headers=headers)
    assert paused.status_code == 201, paused.text
    body = paused.json()
    assert (body["schedule_paused"], body["kind"], body["state"]) == (True, "manual", "queued")
    assert env.tw.store.get_run(body["id"]) is not None  # the manual run goes ahead
    if key is not None:  # a retried request gets the first answer, the pause fact included
        again = env.post(f"{BASE}/nightly/trigger", scope="write", headers=headers)
        assert (again.json()["id"], again.json()["schedule_paused"]) == (body["id"], True)
