"""Pause, resume, trigger and logout from the pages: CSRF on every POST, scopes, and what
changes (or, when refused, that nothing does)."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from tickwork.app import Tickwork
from tickwork.model import RunState
from tickwork.store.base import RunFilter
from tickwork.web.dashboard.auth import csrf_token

from .conftest import MakeClient, TestClient


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', html)
    assert found is not None, "no CSRF field in the page"
    return found.group(1)


def state(tw: Tickwork) -> tuple[object, ...]:
    """Everything an action could change: schedules as stored, and runs."""
    schedules = tuple((r.name, r.paused, r.version) for r in tw.store.list_schedules())
    runs = tuple((r.id, r.state) for r in tw.store.list_runs(RunFilter(limit=1000)))
    return schedules, runs


def test_pause_and_resume_change_the_schedule(writer: TestClient, tw: Tickwork) -> None:
    csrf = csrf_of(writer.get("/schedules/hello").text)
    paused = writer.post("/schedules/hello/pause", data={"csrf": csrf})
    assert paused.status_code == 303
    assert paused.headers["location"] == "/schedules/hello?did=paused"
    assert tw.store.get_schedule("hello").paused  # type: ignore[union-attr]
    page = writer.get(paused.headers["location"]).text
    assert "Paused: no new runs" in page
    assert 'data-action="resume"' in page
    assert 'data-action="pause"' not in page
    resumed = writer.post("/schedules/hello/resume", data={"csrf": csrf})
    assert resumed.headers["location"] == "/schedules/hello?did=resumed"
    assert not tw.store.get_schedule("hello").paused  # type: ignore[union-attr]


def test_trigger_queues_a_run_that_the_page_shows_at_once(writer: TestClient, tw: Tickwork) -> None:
    csrf = csrf_of(writer.get("/schedules/hello").text)
    before = {r.id for r in tw.store.list_runs(RunFilter(schedule="hello"))}
    response = writer.post("/schedules/hello/trigger", headers={"X-CSRF-Token": csrf})
    assert response.status_code == 303
    (new,) = [r for r in tw.store.list_runs(RunFilter(schedule="hello")) if r.id not in before]
    assert new.state == RunState.queued
    assert new.kind == "manual"
    assert response.headers["location"] == f"/schedules/hello?did=triggered&run={new.id}"
    page = writer.get(response.headers["location"]).text
    assert f'Run <a href="/runs/{new.id}">#{new.id}</a> is queued.' in page
    history = page.split('id="history"')[1]
    assert history.startswith(' hx-get="/partials/schedules/hello/history" hx-trigger="every 2s"')
    assert f"#{new.id}</a>" in history.split("</tr>")[1]  # the newest row, after the header


ACTIONS = ["/schedules/hello/pause", "/schedules/hello/trigger", "/schedules/broken/pause"]


@pytest.mark.parametrize("path", ACTIONS)
@pytest.mark.parametrize(
    "sent",
    [
        pytest.param({}, id="no-token"),
        pytest.param({"data": {"csrf": "0" * 64}}, id="wrong-token"),
        pytest.param({"data": {"csrf": ""}}, id="empty-token"),
        pytest.param({"headers": {"X-CSRF-Token": "x"}}, id="wrong-header"),
        pytest.param({"data": {"csrf": csrf_token("tw_someone-else")}}, id="another-session"),
    ],
)
def test_a_post_without_the_right_csrf_token_is_refused_and_changes_nothing(
    writer: TestClient, tw: Tickwork, path: str, sent: dict[str, dict[str, str]]
) -> None:
    before = state(tw)
    response = writer.post(path, **sent)  # type: ignore[arg-type]
    assert response.status_code == 403
    assert "security token is missing or wrong" in response.text
    assert "Nothing was changed" in response.text
    assert state(tw) == before


def test_a_read_token_sees_no_buttons_and_cannot_act(reader: TestClient, tw: Tickwork) -> None:
    page = reader.get("/schedules/hello").text
    assert 'data-action="' not in page
    csrf = csrf_of(page)  # the logout form still has one
    before = state(tw)
    for action in ("pause", "resume", "trigger"):
        response = reader.post(f"/schedules/hello/{action}", data={"csrf": csrf})
        assert response.status_code == 403
        assert "the &#39;write&#39; scope" in response.text
    assert state(tw) == before


def test_an_action_without_a_session_goes_to_login_and_changes_nothing(
    make_client: MakeClient, tw: Tickwork
) -> None:
    before = state(tw)
    response = make_client().post("/schedules/hello/pause", data={"csrf": "0" * 64})
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")
    assert state(tw) == before


def test_an_action_on_an_unknown_schedule_says_so(writer: TestClient) -> None:
    csrf = csrf_of(writer.get("/").text)
    response = writer.post("/schedules/nope/trigger", data={"csrf": csrf})
    assert response.status_code == 404
    assert "No schedule is named &#39;nope&#39;" in response.text


def test_logout_needs_the_csrf_token_then_ends_the_session(writer: TestClient) -> None:
    csrf = csrf_of(writer.get("/").text)
    assert writer.post("/logout").status_code == 403
    assert writer.get("/").status_code == 200  # still logged in
    response = writer.post("/logout", data={"csrf": csrf})
    assert response.status_code == 303
    assert response.headers["location"] == "/login?did=logged_out"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith('tickwork_session=""')
    assert "Max-Age=0" in cookie
    assert writer.get("/").status_code == 303
    assert "Logged out." in writer.get("/login?did=logged_out").text


@pytest.mark.parametrize("prefix", ["", "/tickwork"])
def test_actions_work_under_a_prefix(
    make_client: MakeClient, tokens: dict[str, str], tw: Tickwork, prefix: str
) -> None:
    client = make_client(prefix, token=tokens["write"])
    page = client.get(f"{prefix}/schedules/hello").text
    assert f'action="{prefix}/schedules/hello/pause"' in page
    response = client.post(f"{prefix}/schedules/hello/pause", data={"csrf": csrf_of(page)})
    assert response.headers["location"] == f"{prefix}/schedules/hello?did=paused"
    assert tw.store.get_schedule("hello").paused  # type: ignore[union-attr]


def test_without_login_every_page_warns_and_posts_still_need_the_csrf_cookie(
    make_client: MakeClient, open_tw: Tickwork
) -> None:
    client = make_client()
    page = client.get("/schedules/hello")
    assert page.status_code == 200
    assert 'api_auth = "none"' in page.text
    assert "Use it for local development only" in page.text
    assert client.get("/login").headers["location"] == "/"
    cookie = page.headers["set-cookie"]
    assert "tickwork_csrf=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    csrf = csrf_of(page.text)
    assert client.get("/").text.count(csrf) >= 1  # the same cookie, the same token
    before = state(open_tw)
    # Another site can make the browser post, but cannot read the token out of the page.
    other = make_client()
    assert other.post("/schedules/hello/pause", data={"csrf": csrf}).status_code == 403
    assert client.post("/schedules/hello/pause").status_code == 403
    assert state(open_tw) == before
    assert client.post("/schedules/hello/pause", data={"csrf": csrf}).status_code == 303
    assert open_tw.store.get_schedule("hello").paused  # type: ignore[union-attr]


def test_partials_poll_only_while_runs_are_live(writer: TestClient, tw: Tickwork) -> None:
    idle = writer.get("/partials/active").text
    assert "hx-trigger" not in idle
    assert 'data-live="no"' in idle
    run = tw.trigger("hello")
    live = writer.get("/partials/active").text
    assert 'hx-get="/partials/active" hx-trigger="every 2s" hx-swap="outerHTML"' in live
    queued = writer.get(f"/partials/runs/{run.id}").text
    assert f'hx-get="/partials/runs/{run.id}" hx-trigger="every 2s"' in queued
    from tickwork.testing import run_until_idle

    run_until_idle(tw)
    done = writer.get(f"/partials/runs/{run.id}").text
    assert "hx-trigger" not in done
    assert "succeeded" in done
    assert "hx-trigger" not in writer.get("/partials/active").text


def test_settings_change_is_read_per_request(open_tw: Tickwork, make_client: MakeClient) -> None:
    client = make_client()
    assert client.get("/").status_code == 200
    open_tw.settings = replace(open_tw.settings, api_auth="token")
    assert client.get("/").status_code == 303


def test_retry_queues_a_failed_run_again_with_its_idempotency_key(
    writer: TestClient, tw: Tickwork
) -> None:
    failed = tw.store.get_run(1)  # broken, exit 3
    assert failed is not None
    assert failed.state == RunState.failed
    page = writer.get("/runs/1").text
    assert 'data-action="retry"' in page
    response = writer.post("/runs/1/retry", data={"csrf": csrf_of(page)})
    assert response.status_code == 303
    assert response.headers["location"] == "/runs/1?did=retried"
    again = tw.store.get_run(1)
    assert again is not None
    assert again.state == RunState.queued
    assert again.idempotency_key == failed.idempotency_key
    shown = writer.get(response.headers["location"]).text
    assert "Retry queued." in shown
    assert 'data-action="retry"' not in shown  # a queued run retries on its own
    assert 'hx-trigger="every 2s"' in shown


def test_retry_of_a_run_that_succeeded_is_refused_and_changes_nothing(
    writer: TestClient, tw: Tickwork
) -> None:
    ok = tw.store.list_runs(RunFilter(schedule="hello", limit=1))[0]
    assert ok.state == RunState.succeeded
    page = writer.get(f"/runs/{ok.id}").text
    assert 'data-action="retry"' not in page
    before = state(tw)
    response = writer.post(f"/runs/{ok.id}/retry", data={"csrf": csrf_of(page)})
    assert response.status_code == 409
    assert "succeeded" in response.text
    assert state(tw) == before
    assert writer.post("/runs/999/retry", data={"csrf": csrf_of(page)}).status_code == 404


def test_retry_needs_csrf_and_the_write_scope(
    reader: TestClient, writer: TestClient, tw: Tickwork
) -> None:
    before = state(tw)
    assert writer.post("/runs/1/retry").status_code == 403
    assert 'data-action="retry"' not in reader.get("/runs/1").text
    csrf = csrf_of(reader.get("/runs/1").text)
    assert reader.post("/runs/1/retry", data={"csrf": csrf}).status_code == 403
    assert state(tw) == before
