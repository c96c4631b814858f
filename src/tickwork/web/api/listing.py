"""The body of ``GET /api/v1/schedules``, from each row's JSON kept by the row's key.

A page shows 50 schedules, and reading, converting and writing them as JSON was most of a
request's CPU, on every request, for rows that had mostly not changed since the last one. A
representation depends only on the stored row it shows (``shapes.py``), and a row's key is
every stored column of it as the database gives it (``KeyedSchedulePage``), so a row whose
key was seen before has the JSON it had then: exact whatever wrote the row (the
scheduler's advance of its next fire, a pause in another process) and without a list of
which writes touch which column. When every key of a page is known, only the keys are read.
"""

from __future__ import annotations

import threading
from collections.abc import Container, Hashable, Iterable
from dataclasses import dataclass

from tickwork.app import Tickwork
from tickwork.store.api_base import KeyedSchedulePage
from tickwork.web.api.common import dumps
from tickwork.web.api.shapes import encode_cursor, schedule_json

__all__ = ["MEMO_SIZE", "Filters", "RowMemo", "listing_body"]

MEMO_SIZE = 4096  # rows' JSON kept per app: ~1.6 kB each, key included (6.5 MB at most)
LISTED_FIRES = 1  # next fires a listed schedule shows (``schedule_json``'s ``count``)


@dataclass(frozen=True, slots=True)
class Filters:
    """What the listing was asked for (the query of ``GET /api/v1/schedules``)."""

    after: str | None
    limit: int
    source: str | None = None
    paused: bool | None = None
    include_retired: bool = False
    prefix: str | None = None


class RowMemo:
    """A row's JSON (``schedule_json``, as bytes) by the row's key, at most ``size`` rows.

    Reads take no lock: routes run in a few threads, and a lookup is one dict operation.
    Past ``size`` the oldest entries go first; a key that changed is never asked again, so
    it just waits its turn. A key is in the memo exactly when its JSON is."""

    def __init__(self, size: int = MEMO_SIZE) -> None:
        self.size = size
        self._json: dict[Hashable, bytes] = {}
        self._lock = threading.Lock()  # writers: eviction iterates the dict

    def __contains__(self, key: object) -> bool:
        return key in self._json

    def __len__(self) -> int:
        return len(self._json)

    def get(self, key: Hashable) -> bytes | None:
        return self._json.get(key)

    def keep(self, pairs: Iterable[tuple[Hashable, bytes]]) -> None:
        with self._lock:
            for key, json in pairs:
                self._json[key] = json
            while len(self._json) > self.size:
                del self._json[next(iter(self._json))]


def listing_body(tw: Tickwork, memo: RowMemo, filters: Filters) -> bytes:
    """The listing's exact bytes: ``dumps({"items": [...], "next_cursor": ...})``, each item
    from ``memo`` when its row's key is there."""
    page = _read(tw, filters, known=memo)
    items = _recalled(memo, page) if page.rows is None else _rendered(memo, page)
    if items is None:  # a key left the memo between the read and now: read the rows
        page = _read(tw, filters, known=())
        items = _rendered(memo, page)
    last = page.names[-1] if page.names and page.more else None
    cursor = None if last is None else encode_cursor("schedules", last)
    # ``dumps`` of the whole document, item by item: separators "," and ":", no spaces.
    return b'{"items":[' + b",".join(items) + b'],"next_cursor":' + dumps(cursor) + b"}"


def _read(tw: Tickwork, filters: Filters, *, known: Container[Hashable]) -> KeyedSchedulePage:
    return tw.schedule_page_keyed(
        after=filters.after,
        limit=filters.limit,
        source=filters.source,
        paused=filters.paused,
        include_retired=filters.include_retired,
        prefix=filters.prefix,
        known=known,
    )


def _recalled(memo: RowMemo, page: KeyedSchedulePage) -> list[bytes] | None:
    """Each row's JSON from the memo, or None when one is missing (pushed out by another
    thread's rows since the read)."""
    items: list[bytes] = []
    for key in page.keys:
        json = memo.get(key)
        if json is None:
            return None
        items.append(json)
    return items


def _rendered(memo: RowMemo, page: KeyedSchedulePage) -> list[bytes]:
    """Each row's JSON, made for the rows the memo lacks, which it keeps from now on."""
    assert page.rows is not None
    items: list[bytes] = []
    new: list[tuple[Hashable, bytes]] = []
    for key, row in zip(page.keys, page.rows, strict=True):
        json = memo.get(key)
        if json is None:
            json = dumps(schedule_json(row, count=LISTED_FIRES))
            new.append((key, json))
        items.append(json)
    memo.keep(new)
    return items
