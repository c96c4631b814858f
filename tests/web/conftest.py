"""Apps on a temp SQLite file and a fake clock, served in-process by Starlette's TestClient."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tickwork.app import Tickwork
from tickwork.testing import FakeClock
from tickwork.web import create_app

with warnings.catch_warnings():
    # Starlette asks for httpx2 in its TestClient; the pinned httpx still works with it.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday

__all__ = ["T0", "TestClient"]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def make_tw(tmp_path: Path, clock: FakeClock) -> Iterator[Callable[..., Tickwork]]:
    made: list[Tickwork] = []

    def make(**kwargs: Any) -> Tickwork:
        kwargs.setdefault("database_url", f"sqlite:///{tmp_path / 'tw.db'}")
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("worker_id", f"web-test-{len(made)}")
        tw = Tickwork(**kwargs)
        made.append(tw)
        return tw

    yield make
    for tw in made:
        tw.close()


@pytest.fixture
def tw(make_tw: Callable[..., Tickwork]) -> Tickwork:
    return make_tw()


@pytest.fixture
def client(tw: Tickwork) -> Iterator[TestClient]:
    with TestClient(create_app(tw)) as http:
        yield http
