"""Schedule changes made through the API are recorded as revisions (source ``api``, the
token named) and can be rolled back like any other change."""

from __future__ import annotations

from .conftest import Env, api_schedule

BASE = "/api/v1/schedules"


def test_create_replace_and_delete_each_record_one_revision(env: Env) -> None:
    first = env.tw.revision_store.latest_revision()
    api_schedule(env, "reminder", every="1h")
    body = {"name": "reminder", "every": "2h", "task": "nightly"}
    assert env.put(f"{BASE}/reminder", json=body).status_code == 200
    assert env.put(f"{BASE}/reminder", json=body).status_code == 200  # unchanged: none
    assert env.delete(f"{BASE}/reminder").status_code == 204

    made = sorted(env.tw.revisions(limit=10), key=lambda r: r.number)
    made = [r for r in made if r.number > first]
    assert [r.source for r in made] == ["api", "api", "api"]
    assert all("admin-token" in r.applied_by for r in made)
    added, changed, retired = made
    assert added.summary["added"] == ["reminder"]
    assert added.before == {}
    assert added.after["reminder"]["spec"]["every"] == "1h"
    assert changed.summary["changed"] == ["reminder"]
    assert changed.before["reminder"]["spec"]["every"] == "1h"
    assert changed.after["reminder"]["spec"]["every"] == "2h"
    assert retired.summary["retired"] == ["reminder"]
    assert retired.after == {}


def test_a_refused_change_records_no_revision(env: Env) -> None:
    latest = env.tw.revision_store.latest_revision()
    bad = {"name": "x", "cron": "61 * * * *", "task": "nightly"}
    assert env.post(BASE, json=bad).status_code == 422
    assert env.put(f"{BASE}/from-config", json={**bad, "name": "from-config"}).status_code in (
        403,
        422,
    )
    assert env.tw.revision_store.latest_revision() == latest


def test_rolling_back_an_api_change_restores_the_earlier_definition(env: Env) -> None:
    api_schedule(env, "reminder", every="1h")
    created = env.tw.revision_store.latest_revision()
    body = {"name": "reminder", "every": "2h", "task": "nightly"}
    assert env.put(f"{BASE}/reminder", json=body).status_code == 200

    plan = env.tw.plan_rollback(to=created)
    env.tw.apply_plan(plan, source="rollback", expect_revision=plan.base_revision)
    row = env.tw.store.get_schedule("reminder")
    assert row is not None
    assert row.spec["every"] == "1h"
    assert row.source == "api"
    assert env.tw.revisions(limit=1)[0].source == "rollback"
