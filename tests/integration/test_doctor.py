"""tickwork.doctor against PostgreSQL: the clock check compares the host with the server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tickwork.config import Settings
from tickwork.doctor import diagnose
from tickwork.store import open_store


def test_a_skewed_host_clock_is_a_problem_with_its_fix(postgres_url: str) -> None:
    store = open_store(postgres_url)
    try:
        store.upgrade()
        settings = Settings(database_url=postgres_url)
        right = diagnose(settings, store=store)
        ahead = diagnose(
            settings, store=store, host_now=lambda: datetime.now(UTC) + timedelta(seconds=5)
        )
        behind = diagnose(
            settings, store=store, host_now=lambda: datetime.now(UTC) - timedelta(seconds=90)
        )
    finally:
        store.close()
    clock = {d: next(c for c in x.checks if c.name == "clock") for d, x in
             (("right", right), ("ahead", ahead), ("behind", behind))}  # fmt: skip
    assert clock["right"].ok
    assert not clock["ahead"].ok
    assert "the host clock is 5.0 s ahead of the database's" in clock["ahead"].message
    assert clock["ahead"].fix is not None
    assert "NTP" in clock["ahead"].fix
    assert "90.0 s behind" in clock["behind"].message
