"""The dashboard in a real browser: Debian's Chromium, driven by Playwright, against a real
uvicorn server. Logs in, pauses and resumes a schedule, triggers a run and sees it appear,
then watches it finish without reloading the page. Screenshots go to
``test-output/screenshots/``.

Chromium is ``TICKWORK_CHROMIUM`` or ``chromium`` on PATH; never a browser Playwright
downloads, and never the network (the flags below). Without Chromium the test is skipped,
saying so, unless ``TICKWORK_REQUIRE_BROWSER=1`` (``.ci/run`` sets it): then it fails.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

from tickwork.app import Tickwork
from tickwork.testing import run_until_idle
from tickwork.web.api import build_api_router
from tickwork.web.dashboard import build_dashboard_router

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
PREFIX = "/tickwork"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def chromium_path() -> str:
    path = os.environ.get("TICKWORK_CHROMIUM") or shutil.which("chromium")
    if path:
        return path
    reason = "no Chromium: set TICKWORK_CHROMIUM or install Debian's chromium package"
    if os.environ.get("TICKWORK_REQUIRE_BROWSER", "") not in ("", "0"):
        pytest.fail(f"TICKWORK_REQUIRE_BROWSER is set: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def server(tw: Tickwork) -> Iterator[str]:
    """A real uvicorn server (in a thread) with the dashboard under ``/tickwork``; yields
    its base URL. The engine is not running: a triggered run stays queued until the test
    steps the engine itself."""
    app = FastAPI()
    app.include_router(build_dashboard_router(tw), prefix=PREFIX)
    app.include_router(build_api_router(tw), prefix=PREFIX)  # side by side, as served
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False)
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10  # a safety net: the server says when it is up
    while not srv.started:
        assert thread.is_alive(), "uvicorn stopped before it started"
        assert time.monotonic() < deadline, "uvicorn did not start within 10 s"
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)
    sock.close()


def test_log_in_pause_resume_trigger_and_watch_the_run(
    server: str, tw: Tickwork, tokens: dict[str, str]
) -> None:
    executable = chromium_path()
    from playwright.sync_api import expect, sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    requested: list[str] = []
    problems: list[str] = []  # console errors: a CSP refusal, a script error
    refused: list[tuple[int, str]] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("request", lambda r: requested.append(r.url))
            page.on(
                "response",
                lambda r: refused.append((r.status, r.url)) if r.status >= 400 else None,
            )
            page.on(
                "console",
                lambda m: (
                    problems.append(m.text)
                    if m.type in ("error", "warning") and not m.text.startswith("Failed to load")
                    else None
                ),
            )
            page.on("pageerror", lambda e: problems.append(str(e)))

            def shot(name: str) -> None:
                page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

            # Not logged in: the overview sends the browser to the login page.
            page.goto(f"{server}{PREFIX}/")
            expect(page).to_have_url(f"{server}{PREFIX}/login?next=%2Ftickwork%2F")
            expect(page.get_by_role("heading", name="Log in")).to_be_visible()
            page.get_by_label("Token").fill("tw_not-a-token")
            page.get_by_role("button", name="Log in").click()
            expect(page.get_by_role("alert")).to_contain_text("not valid")
            shot("01-login-refused")
            page.get_by_label("Token").fill(tokens["write"])
            page.get_by_role("button", name="Log in").click()

            expect(page.get_by_role("heading", name="Overview")).to_be_visible()
            expect(page.locator("#failing")).to_contain_text("broken")
            expect(page.locator("#failing")).to_contain_text("hostile")
            shot("02-overview")

            page.get_by_role("link", name="Schedules", exact=True).first.click()
            expect(page.get_by_role("heading", name="Schedules")).to_be_visible()
            shot("03-schedules")

            page.get_by_role("link", name="hello", exact=True).click()
            expect(page.get_by_role("heading", name="hello")).to_be_visible()
            expect(page.locator("svg.chart")).to_be_visible()
            shot("04-schedule")

            page.get_by_role("button", name="Pause").click()
            expect(page.get_by_role("status")).to_contain_text("Paused")
            expect(page.locator("h1 .badge.paused")).to_be_visible()
            assert tw.store.get_schedule("hello").paused  # type: ignore[union-attr]
            shot("05-paused")
            page.get_by_role("button", name="Resume").click()
            expect(page.get_by_role("status")).to_contain_text("Resumed")
            expect(page.locator("h1 .badge.active")).to_be_visible()
            assert not tw.store.get_schedule("hello").paused  # type: ignore[union-attr]

            page.get_by_role("button", name="Run now").click()
            expect(page.get_by_text("is queued")).to_be_visible()
            first_row = page.locator("#history tbody tr").first
            expect(first_row).to_contain_text("queued")
            expect(first_row).to_contain_text("manual")
            expect(page.locator("#history")).to_have_attribute("data-live", "yes")
            shot("06-triggered")

            # The run page refreshes itself: the run finishes while we watch, no reload.
            first_row.get_by_role("link").first.click()
            expect(page.locator("#run-state h1 .badge")).to_contain_text("queued")
            shot("07-run-queued")
            run_until_idle(tw)
            expect(page.locator("#run-state h1 .badge")).to_contain_text("succeeded")
            expect(page.locator("#run-state")).to_have_attribute("data-live", "no")
            expect(page.locator("pre.out")).to_contain_text("hello")
            shot("08-run-succeeded")

            page.goto(f"{server}{PREFIX}/runs/2")
            expect(page.locator("#run-state h1 .badge")).to_contain_text("failed")
            shot("09-run-failed")
            page.get_by_role("link", name="Workers").click()
            expect(page.get_by_role("cell", name="test-worker")).to_be_visible()
            shot("10-workers")
            page.goto(f"{server}{PREFIX}/schedules/report")
            expect(page.locator("svg.chart rect.bar")).to_have_count(8)
            shot("11-schedule-chart")

            page.get_by_role("button", name="Log out").click()
            expect(page.get_by_role("heading", name="Log in")).to_be_visible()
            page.goto(f"{server}{PREFIX}/schedules")
            expect(page.get_by_role("heading", name="Log in")).to_be_visible()
        finally:
            browser.close()
    # Everything came from the dashboard itself (no CDN), and nothing was refused (CSP).
    assert requested
    assert [url for url in requested if not url.startswith(server)] == []
    assert problems == []
    assert refused == [(401, f"{server}{PREFIX}/login")]  # the wrong token, and only that
