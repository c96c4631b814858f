"""Catch-up orders fires by instant, also in the hour repeated when DST ends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from tickwork.model import CatchupPolicy
from tickwork.policies.catchup import plan_catchup

BERLIN = ZoneInfo("Europe/Berlin")


def test_the_repeated_hour_is_queued_in_instant_order() -> None:
    first = datetime(2026, 10, 25, 2, 56, tzinfo=BERLIN)  # CEST, 00:56Z
    second = datetime(2026, 10, 25, 2, 0, fold=1, tzinfo=BERLIN)  # CET, 01:00Z
    assert first.astimezone(UTC) < second.astimezone(UTC)
    now = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    plan = plan_catchup(
        [first, second],
        now,
        CatchupPolicy.all,
        grace=timedelta(hours=1),
        window=None,
        limit=100,
        superseded=False,
    )
    assert [f.astimezone(UTC) for f in plan.queue] == [
        datetime(2026, 10, 25, 0, 56, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 0, tzinfo=UTC),
    ]
