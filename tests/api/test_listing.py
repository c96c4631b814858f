"""The listing (``GET /api/v1/schedules``) keeps each row's JSON by the row's key
(``web/api/listing.py``): its bytes are always those of the plain rendering, and whatever
changes a stored row, through the API, the scheduler, another process or a bare SQL
update, shows at once, with a new ETag."""

from __future__ import annotations

from collections.abc import Hashable
from datetime import timedelta
from typing import Any

from sqlalchemy import update

from tickwork.app import Tickwork
from tickwork.scheduler import Scheduler
from tickwork.store.schema import schedules
from tickwork.store.sql import SQLStore
from tickwork.web.api.common import dumps
from tickwork.web.api.listing import Filters, RowMemo, listing_body
from tickwork.web.api.shapes import encode_cursor, schedule_json

from .conftest import Env, api_schedule

BASE = "/api/v1/schedules"


def plain(tw: Tickwork, **query: Any) -> bytes:
    """The listing as rendered before rows were kept: every row read and written anew."""
    page = tw.schedule_page(**{"after": None, "limit": 50, **query})
    last = page.rows[-1].name if page.rows and page.more else None
    return dumps(
        {
            "items": [schedule_json(row, count=1) for row in page.rows],
            "next_cursor": None if last is None else encode_cursor("schedules", last),
        }
    )


def listed(env: Env, query: str = "") -> tuple[bytes, str]:
    response = env.get(BASE + query)
    assert response.status_code == 200, response.text
    return response.content, response.headers["etag"]


def bare_update(env: Env, name: str, **values: Any) -> None:
    """Change a stored row behind every layer's back: no version bump, no updated_at."""
    store = env.tw.store
    assert isinstance(store, SQLStore)
    with store._transaction("test: a bare update", write=True) as conn:
        conn.execute(update(schedules).where(schedules.c.name == name).values(**values))


def test_the_listing_is_byte_for_byte_the_plain_rendering(env: Env) -> None:
    for n in range(7):
        api_schedule(env, f"s_{n}", every=f"{n + 1}h")
    env.post(f"{BASE}/s_3/pause", scope="write")
    env.delete(f"{BASE}/s_5")
    queries: list[tuple[str, dict[str, Any]]] = [
        ("", {}),
        ("?limit=3", {"limit": 3}),
        ("?limit=2&prefix=s_", {"limit": 2, "prefix": "s_"}),
        ("?source=api&include_retired=true", {"source": "api", "include_retired": True}),
        ("?paused=true", {"paused": True}),
        ("?paused=false&limit=4", {"paused": False, "limit": 4}),
        ("?prefix=nothing", {"prefix": "nothing"}),
        (f"?cursor={encode_cursor('schedules', 's_2')}", {"after": "s_2"}),
    ]
    for _ in range(2):  # read, then from kept rows
        for query, kwargs in queries:
            assert listed(env, query)[0] == plain(env.tw, **kwargs), query


def test_a_prefix_is_literal_not_a_like_pattern(env: Env) -> None:
    for name in ("a_b", "axb", "a_"):
        api_schedule(env, name)
    body = env.get(f"{BASE}?prefix=a_").json()
    assert [i["name"] for i in body["items"]] == ["a_", "a_b"]


def test_a_pause_and_a_resume_show_at_once_with_new_etags(env: Env) -> None:
    before, tag = listed(env)
    assert listed(env) == (before, tag)  # kept rows: the same bytes and tag
    env.post(f"{BASE}/nightly/pause", scope="write")
    paused, paused_tag = listed(env)
    assert paused != before
    assert paused_tag != tag
    assert paused == plain(env.tw)
    assert {i["name"]: i["paused"] for i in env.get(BASE).json()["items"]}["nightly"]
    env.post(f"{BASE}/nightly/resume", scope="write")
    resumed, resumed_tag = listed(env)
    assert resumed == plain(env.tw)
    assert resumed_tag not in (tag, paused_tag)  # updated_at and version moved on


def test_the_schedulers_advance_shows_at_once(env: Env) -> None:
    """The scheduler moves next_fire_at and last_fire_at without a new version: the key is
    every column, so the listing still changes at once."""
    api_schedule(env, "hourly", every="1h")
    before, tag = listed(env)
    env.clock.advance(timedelta(hours=1, seconds=1))
    Scheduler(env.tw.store).run_once(env.clock.now())
    after, new_tag = listed(env)
    assert (after, new_tag) != (before, tag)
    assert after == plain(env.tw)
    item = {i["name"]: i for i in env.get(BASE).json()["items"]}["hourly"]
    assert item["last_fire_at"] == "2026-03-02T13:00:00+00:00"
    assert item["next_fires"] == ["2026-03-02T14:00:00+00:00"]
    assert item["version"] == 1


def test_a_bare_update_of_any_column_shows_at_once(env: Env) -> None:
    """No layer is trusted to bump the version: a row changed by bare SQL, version and
    updated_at untouched, is listed as it now is."""
    before, tag = listed(env)
    spec = env.tw.store.get_schedule("from-config")
    assert spec is not None
    bare_update(env, "from-config", spec={**spec.spec, "description": "changed quietly"})
    changed, changed_tag = listed(env)
    assert (changed, changed_tag) != (before, tag)
    assert changed == plain(env.tw)
    assert b"changed quietly" in changed
    bare_update(env, "from-config", paused=True)
    assert listed(env)[0] == plain(env.tw)
    bare_update(env, "from-config", next_fire_at=env.clock.now() + timedelta(days=3))
    assert listed(env)[0] == plain(env.tw)


def test_a_change_by_another_process_shows_at_once(env: Env) -> None:
    before, tag = listed(env)
    other = Tickwork(database_url=env.tw.settings.database_url, clock=env.clock)
    try:
        other.pause("failing")
    finally:
        other.close()
    after, new_tag = listed(env)
    assert (after, new_tag) != (before, tag)
    assert after == plain(env.tw)


def test_a_schedule_deleted_and_created_again_lists_as_it_now_is(env: Env) -> None:
    api_schedule(env, "again", every="1h")
    listed(env)
    env.delete(f"{BASE}/again")
    assert b'"again"' not in listed(env)[0]
    api_schedule(env, "again", every="2h")
    body, _ = listed(env)
    assert body == plain(env.tw)
    assert {i["name"]: i["trigger"] for i in env.get(BASE).json()["items"]}["again"] == "every 2h"


def test_a_memo_smaller_than_the_page_still_gives_the_exact_bytes(env: Env) -> None:
    for n in range(5):
        api_schedule(env, f"s{n}")
    memo = RowMemo(size=2)
    for _ in range(3):
        assert listing_body(env.tw, memo, Filters(None, 50)) == plain(env.tw)
        assert len(memo) <= 2


class Forgetful(RowMemo):
    """Claims every key, then has none of them: as when another thread's rows pushed them
    out between the read of the keys and the lookup of their JSON."""

    def __contains__(self, key: object) -> bool:
        return True

    def get(self, key: Hashable) -> bytes | None:
        return None


def test_rows_pushed_out_between_the_read_and_the_lookup_are_read_again(env: Env) -> None:
    assert listing_body(env.tw, Forgetful(), Filters(None, 50)) == plain(env.tw)


def test_keys_are_equal_exactly_when_rows_are(env: Env) -> None:
    api_schedule(env, "hourly", every="1h")
    first = env.tw.schedule_page_keyed(after=None, limit=50)
    assert first.rows == env.tw.schedule_page(after=None, limit=50).rows
    assert first.names == tuple(r.name for r in first.rows or ())
    assert len(set(first.keys)) == len(first.keys)
    known = set(first.keys)
    again = env.tw.schedule_page_keyed(after=None, limit=50, known=known)
    assert again.rows is None  # every key known: keys only
    assert again.keys == first.keys
    bare_update(env, "hourly", last_fire_at=env.clock.now())
    moved = env.tw.schedule_page_keyed(after=None, limit=50, known=known)
    assert moved.rows == env.tw.schedule_page(after=None, limit=50).rows
    changed = [n for n, a, b in zip(moved.names, first.keys, moved.keys, strict=True) if a != b]
    assert changed == ["hourly"]
