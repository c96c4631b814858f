"""Every page and partial through a TestClient: login required, content, escaping, prefix."""

from __future__ import annotations

import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest

from tickwork.app import Tickwork
from tickwork.model import WorkerInfo
from tickwork.store.base import ScheduleUpsert
from tickwork.testing import FakeClock, run_until_idle
from tickwork.tokens import revoke_token

from .conftest import MakeClient, TestClient

PAGES = [
    "/",
    "/schedules",
    "/schedules/hello",
    "/schedules/report",
    "/runs/1",
    "/workers",
    "/partials/active",
    "/partials/runs/1",
    "/partials/schedules/hello/history",
]


class Links(HTMLParser):
    """Every URL a page points at: links, form actions, scripts, styles, htmx gets."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for key, value in attrs:
            if key in ("href", "action", "src", "hx-get", "hx-post") and value is not None:
                self.urls.append(value)


def urls_of(html: str) -> list[str]:
    parser = Links()
    parser.feed(html)
    return parser.urls


@pytest.mark.parametrize("path", PAGES)
def test_a_page_without_a_session_sends_the_browser_to_login(
    make_client: MakeClient, path: str
) -> None:
    response = make_client().get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


def test_a_polled_partial_without_a_session_tells_htmx_to_load_the_login_page(
    make_client: MakeClient,
) -> None:
    response = make_client().get("/partials/active", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/login?next=%2Fpartials%2Factive"


def test_a_wrong_or_revoked_token_gets_no_session(
    make_client: MakeClient, tokens: dict[str, str], tw: Tickwork
) -> None:
    client = make_client()
    refused = client.post("/login", data={"token": tokens["write"] + "x"})
    assert refused.status_code == 401
    assert "not valid" in refused.text
    assert "set-cookie" not in refused.headers
    writer = make_client(token=tokens["write"])
    assert writer.get("/").status_code == 200
    revoke_token(tw, "write-user")
    assert writer.get("/").status_code == 303  # every request checks the token again


@pytest.mark.parametrize(("prefix", "path"), [("", "/"), ("/tickwork", "/tickwork/")])
def test_the_session_cookie_is_http_only_strict_and_scoped_to_the_dashboard(
    make_client: MakeClient, tokens: dict[str, str], prefix: str, path: str
) -> None:
    response = make_client(prefix).post(f"{prefix}/login", data={"token": tokens["read"]})
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("tickwork_session=tw_")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert f"Path={path}" in cookie
    assert "Secure" not in cookie  # plain http here; https below


def test_the_session_cookie_is_secure_over_https(
    tw: Tickwork, tokens: dict[str, str], make_client: MakeClient
) -> None:
    client = make_client()
    client.base_url = client.base_url.copy_with(scheme="https")  # type: ignore[assignment]
    response = client.post("https://testserver/login", data={"token": tokens["read"]})
    assert "Secure" in response.headers["set-cookie"]


def test_login_goes_back_to_the_page_asked_for_but_never_to_another_site(
    make_client: MakeClient, tokens: dict[str, str]
) -> None:
    client = make_client()
    back = client.post("/login", data={"token": tokens["read"], "next": "/schedules/hello"})
    assert back.headers["location"] == "/schedules/hello"
    for evil in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        away = client.post("/login", data={"token": tokens["read"], "next": evil})
        assert away.headers["location"] == "/"


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_for_a_reader_with_private_headers(
    reader: TestClient, path: str
) -> None:
    response = reader.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "private, no-store"
    assert "script-src 'self'" in response.headers["content-security-policy"]


def test_the_overview_shows_failing_schedules_live_runs_and_next_up(
    writer: TestClient, tw: Tickwork
) -> None:
    html = writer.get("/").text
    failing = html.split('id="failing"')[1].split("</section>")[0]
    assert "broken" in failing
    assert "hostile" in failing
    assert "hello" not in failing  # its runs succeeded
    assert "Nothing is running or waiting" in html
    tw.trigger("hello")
    html = writer.get("/").text
    active = html.split('id="active-runs"')[1].split("</table>")[0]
    assert 'hx-trigger="every 2s"' in active  # polls while something is live
    assert "hello" in active
    assert "queued" in active


def test_the_schedules_page_describes_triggers_and_shows_a_strip_of_results(
    reader: TestClient,
) -> None:
    html = reader.get("/schedules").text
    assert "Every 5 minutes, every day" in html
    assert "At 06:00, on Monday through Friday" in html
    assert "America/New_York" in html
    # A mark per run, with its state as a glyph and in words (not colour alone).
    report = html.split("/schedules/report")[1].split("</tr>")[0]
    assert report.count('class="mark st-succeeded"') == 8
    assert 'aria-label="run 3: succeeded"' in report
    assert "✓" in report


def test_the_schedule_page_shows_ten_fires_in_its_zone_and_in_utc(reader: TestClient) -> None:
    html = reader.get("/schedules/report").text
    fires = html.split('class="fires"')[1].split("</table>")[0]
    # 06:00 New York: EST (-05:00) until the DST change on 8 March 2026, then EDT.
    assert "2026-03-03 06:00:00-05:00</td><td>2026-03-03 11:00:00</td>" in fires
    assert "2026-03-09 06:00:00-04:00</td><td>2026-03-09 10:00:00</td>" in fires
    assert fires.split("<tbody>")[1].count("<tr>") == 10


def test_a_utc_schedule_page_shows_one_column_of_fires(reader: TestClient) -> None:
    html = reader.get("/schedules/broken").text  # every 1h, in the default zone UTC
    fires = html.split('class="fires"')[1].split("</table>")[0]
    assert fires.count("<th>") == 2
    assert "<th>In UTC</th><th></th>" in fires
    first_row = fires.split("<tbody>")[1].split("</tr>")[0]
    assert first_row.count("<td") == 2


def test_the_duration_chart_has_a_bar_per_finished_run_with_seconds(
    reader: TestClient,
) -> None:
    html = reader.get("/schedules/report").text
    chart = html.split("<svg")[1].split("</svg>")[0]
    assert chart.count("<rect") == 8
    assert "run #8: succeeded, 12.00 s" in chart  # the longest: 12 s of fake time
    assert ">15 s</text>" in chart  # the axis goes to a round value above it
    assert ">0 s</text>" in chart


def test_the_run_page_shows_output_attempts_error_and_events(reader: TestClient) -> None:
    html = reader.get("/runs/1").text  # broken: stderr "oops", exit 3
    assert "oops" in html
    assert "exit code 3" in html
    assert "run_triggered" in html
    assert "run_claimed" in html
    assert "run_failed" in html
    assert "test-worker" in html
    assert reader.get("/runs/999").status_code == 404
    assert reader.get("/schedules/nope").status_code == 404


def test_the_workers_page_lists_processes_and_whether_they_are_alive(
    reader: TestClient, tw: Tickwork
) -> None:
    now = tw.clock.now()
    quiet = now - tw.settings.lease - timedelta(seconds=1)
    tw.store.register_worker(WorkerInfo("gone-worker", "h2", 42, "0.1.0", "worker", quiet, quiet))
    html = reader.get("/workers").text
    rows = {row.split("</code>")[0]: row for row in html.split("<tr")[2:]}
    assert set(rows) == {
        ' class="">\n    <td><code>test-worker',
        ' class="stale">\n    <td><code>gone-worker',
    }
    alive, gone = (
        rows[' class="">\n    <td><code>test-worker'],
        rows[' class="stale">\n    <td><code>gone-worker'],
    )
    assert "✓</span> alive" in alive
    assert "✗</span> silent" in gone


def test_hostile_output_and_names_are_escaped(reader: TestClient, tw: Tickwork) -> None:
    run = reader.get("/runs/2").text  # hostile printed HTML
    assert "<script>alert" not in run
    assert "&lt;script&gt;alert(&#34;out&#34;)&lt;/script&gt;" in run
    assert "<img src=x" not in run
    schedule = reader.get("/schedules/hostile").text
    assert "<script>alert" not in schedule  # the command, shown in the definition
    assert "&lt;script&gt;" in schedule
    # A name the config would refuse, written straight to the store: still only text.
    spec = dict(tw.store.get_schedule("hello").spec)  # type: ignore[union-attr]
    evil = '<b onmouseover="x">evil'
    spec["name"] = evil
    now = tw.clock.now()
    tw.store.sync_schedules([ScheduleUpsert(evil, spec, now, now)], "api", now)
    listing = reader.get("/schedules").text
    assert "<b onmouseover" not in listing
    assert "&lt;b onmouseover=&#34;x&#34;&gt;evil" in listing
    assert "/schedules/%3Cb%20onmouseover%3D%22x%22%3Eevil" in listing
    assert reader.get("/schedules/%3Cb%20onmouseover%3D%22x%22%3Eevil").status_code == 200


@pytest.mark.parametrize("prefix", ["", "/tickwork"])
def test_every_url_in_the_pages_is_under_the_prefix_and_answers(
    make_client: MakeClient, tokens: dict[str, str], prefix: str
) -> None:
    client = make_client(prefix, token=tokens["write"])
    seen: set[str] = set()
    todo = [f"{prefix}/"]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        response = client.get(path)
        assert response.status_code == 200, path
        if not response.headers["content-type"].startswith("text/html"):
            continue
        for url in urls_of(response.text):
            if url.startswith("#"):  # a place on the same page
                continue
            assert url.startswith(f"{prefix}/"), (path, url)
            if "/static/" in url or re.search(r"/(pause|resume|trigger|logout|retry)$", url):
                assert client.get(url).status_code in (200, 405), url
                continue
            todo.append(url.split("#")[0] or path)
    assert f"{prefix}/schedules/report" in seen
    assert f"{prefix}/runs/3" in seen
    assert f"{prefix}/workers" in seen


def test_static_files_are_served_and_nothing_else(reader: TestClient) -> None:
    htmx = reader.get("/static/htmx.min.js")
    assert htmx.status_code == 200
    assert htmx.headers["content-type"].startswith("text/javascript")
    assert "htmx" in htmx.text[:200]
    assert reader.get("/static/dashboard.css").status_code == 200
    icon = reader.get("/favicon.ico")  # browsers ask for it at the root by themselves
    assert icon.status_code == 200
    assert icon.headers["content-type"].startswith("image/svg+xml")
    assert icon.content == reader.get("/static/favicon.svg").content
    for path in ("/static/README.md", "/static/..%2F__init__.py", "/static/nope.js"):
        assert reader.get(path).status_code == 404, path


def test_the_api_beside_the_dashboard_takes_the_same_token(
    make_client: MakeClient, tokens: dict[str, str]
) -> None:
    client = make_client("/tickwork")
    response = client.get(
        "/tickwork/api/v1/schedules", headers={"Authorization": f"Bearer {tokens['read']}"}
    )
    assert response.status_code == 200
    assert client.get("/tickwork/").status_code == 303  # the dashboard still wants a login


def test_the_overview_lists_overdue_schedules_longest_first(
    writer: TestClient, tw: Tickwork, clock: FakeClock
) -> None:
    html = writer.get("/").text
    overdue = html.split('id="overdue"')[1].split("</section>")[0]
    assert "Nothing is overdue" in overdue
    # late fails every fire: once its grace (half its period) passes, the monitor marks it.
    tw.add_schedule(name="late", every="5m", command="exit 1")
    tw.sync()
    for _ in range(4):
        clock.advance(timedelta(minutes=5))
        run_until_idle(tw)
    html = writer.get("/").text
    overdue = html.split('id="overdue"')[1].split("</section>")[0]
    assert "/schedules/late" in overdue
    assert "Nothing is overdue" not in overdue
    assert "/schedules/hello" not in overdue  # it keeps succeeding
    tile = html.split('href="#overdue"')[1].split("</a>")[0]
    assert ">1<" in tile.replace(" ", "")
