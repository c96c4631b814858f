"""The schedules page is paged by name (the API's keyset page) and the overview counts and
"next up" come from bounded reads: a store with many schedules renders a page at a time."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tickwork.app import Tickwork
from tickwork.config import Settings
from tickwork.store.base import RunFilter, ScheduleUpsert
from tickwork.testing import FakeClock
from tickwork.web import create_app
from tickwork.web.dashboard import views

from .conftest import T0, TestClient

ROWS = re.compile(r'<a href="/schedules/([^"]+)"><strong>')


@pytest.fixture
def tw(tmp_path: Path) -> Iterator[Tickwork]:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'many.db'}", api_auth="none")
    app = Tickwork(config=settings, clock=FakeClock(T0))
    # 120 schedules (straight into the store: the page is what is tested, not sync).
    upserts = [
        ScheduleUpsert(
            f"s{i:03}",
            {"name": f"s{i:03}", "cron": f"{i % 60} * * * *", "tz": "UTC", "command": "true"},
            T0 + timedelta(minutes=i % 60, seconds=i),
            T0,
        )
        for i in range(120)
    ]
    app.store.sync_schedules(upserts, "config", T0)
    app.store.set_paused("s000", True, T0)
    yield app
    app.close()


def test_the_schedules_page_shows_a_page_at_a_time_and_links_the_next(tw: Tickwork) -> None:
    with TestClient(create_app(tw)) as http:
        first = http.get("/schedules")
        assert first.status_code == 200
        names = ROWS.findall(first.text)
        assert names == [f"s{i:03}" for i in range(views.SCHEDULES_PAGE)]
        assert "120, 1 paused" in first.text
        link = re.search(r'<a rel="next" href="([^"]+)"', first.text)
        assert link is not None
        second = http.get(link.group(1).replace("&amp;", "&"))
        names2 = ROWS.findall(second.text)
        assert names2 == [f"s{i:03}" for i in range(50, 100)]
        third = http.get("/schedules", params={"after": names2[-1]})
        assert ROWS.findall(third.text) == [f"s{i:03}" for i in range(100, 120)]
        assert 'rel="next"' not in third.text
        beyond = http.get("/schedules", params={"after": "zzz"})
        assert "No schedules after zzz" in beyond.text


def test_strips_and_next_up_match_the_per_schedule_reads(tw: Tickwork) -> None:
    for i in range(3):
        tw.store.trigger("s001", T0 + timedelta(seconds=i))
    tw.store.trigger("s002", T0)
    page = views.schedule_lines(tw, page=5)
    by_name = {line.row.name: line for line in page.lines}
    assert page.next_after == "s004"
    for name in ("s001", "s002", "s003"):
        expected = tw.store.list_runs(RunFilter(schedule=name, limit=views.STRIP_LENGTH))
        assert by_name[name].strip == list(reversed(expected))
    ov = views.overview(tw, T0)
    rows = [r for r in tw.store.list_schedules() if not r.paused and r.next_fire_at]
    soonest = sorted(rows, key=lambda r: (r.next_fire_at, r.name))[: views.NEXT_UP]
    assert [r.name for r in ov.next_up] == [r.name for r in soonest]
    assert (ov.schedules, ov.paused) == (120, 1)
