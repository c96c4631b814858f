"""The per-request work the HTTP routes remember: verified tokens (5 s of the app's clock)
and parsed, described triggers (by definition)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tickwork.app import Tickwork
from tickwork.testing import FakeClock
from tickwork.tokens import (
    VERIFIED_TTL,
    create_token,
    peek_verified,
    revoke_token,
    verify_token_cached,
)
from tickwork.trigger_views import UPCOMING_KEPT, trigger_view
from tickwork.triggers import CronTrigger, fires
from tickwork.triggers.cron import _MEMO_SIZE

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def tw(tmp_path: Path, clock: FakeClock) -> Iterator[Tickwork]:
    app = Tickwork(database_url=f"sqlite:///{tmp_path / 'tw.db'}", clock=clock)
    yield app
    app.close()


def test_a_revocation_by_another_process_takes_effect_within_the_ttl(
    tw: Tickwork, clock: FakeClock
) -> None:
    token, _ = create_token(tw, "reader", "read")
    assert peek_verified(tw, token) is None  # never verified: nothing remembered
    found = verify_token_cached(tw, token)
    assert found is not None
    assert found.name == "reader"
    assert peek_verified(tw, token) == found
    tw.store.revoke_token("reader", clock.now())  # as `tickwork token revoke` elsewhere would
    clock.advance(VERIFIED_TTL - timedelta(milliseconds=1))
    assert verify_token_cached(tw, token) == found  # remembered, not read again
    clock.advance(timedelta(milliseconds=1))
    assert verify_token_cached(tw, token) is None
    assert peek_verified(tw, token) is None


def test_revoking_in_this_process_takes_effect_at_once(tw: Tickwork) -> None:
    token, _ = create_token(tw, "reader", "read")
    assert verify_token_cached(tw, token) is not None
    revoke_token(tw, "reader")
    assert peek_verified(tw, token) is None
    assert verify_token_cached(tw, token) is None


def test_unknown_tokens_are_not_remembered_and_a_clock_going_back_forgets(
    tw: Tickwork, clock: FakeClock
) -> None:
    assert verify_token_cached(tw, "tw_not-a-token") is None
    assert verify_token_cached(tw, "no prefix") is None
    token, _ = create_token(tw, "reader", "read")
    assert verify_token_cached(tw, token) is not None
    clock.set(T0 - timedelta(seconds=1))  # a clock set back: the memory is not trusted
    assert peek_verified(tw, token) is None


def test_one_trigger_per_definition_intervals_by_anchor() -> None:
    spec = {"name": "a", "cron": "5 * * * *", "tz": "Europe/Berlin", "task": "m:f"}
    first = trigger_view(spec, T0)
    same = trigger_view({**spec, "name": "b"}, T0 + timedelta(days=3))
    assert same is first  # cron ignores the anchor: one entry for both schedules
    assert isinstance(first.trigger, CronTrigger)
    assert first.description == "At minute 5, every day"
    assert first.text == "5 * * * *"
    assert first.tz.key == "Europe/Berlin"
    assert trigger_view({**spec, "cron": "6 * * * *"}, T0) is not first
    every = {"name": "c", "every": "1h", "tz": "UTC", "task": "m:f"}
    at_t0 = trigger_view(every, T0)
    later = trigger_view(every, T0 + timedelta(minutes=7))
    assert at_t0 is not later
    assert later.trigger.next_after(T0) == T0 + timedelta(minutes=7)
    assert at_t0.trigger.next_after(T0) == T0 + timedelta(hours=1)


def test_upcoming_fires_are_kept_per_first_fire_and_equal_a_fresh_computation() -> None:
    view = trigger_view({"name": "u", "cron": "30 2 * * *", "tz": "Europe/Berlin"}, T0)
    first = datetime(2024, 3, 29, 1, 30, tzinfo=UTC)  # 02:30 CET; 31 March has no 02:30
    expected = [first, *fires(view.trigger, first, 4)]
    got = view.upcoming(first, 5)
    assert got == tuple(f.astimezone(view.tz).isoformat() for f in expected)
    assert "2024-03-31T03:00:00+02:00" in got  # in the DST gap: at its end, as the trigger says
    assert view.upcoming(first, 5) is got  # kept
    moved = view.upcoming(expected[1], 5)  # the schedule moved on: a new answer
    assert moved[0] == got[1]
    assert view.upcoming(first, 0) == ()
    for day in range(UPCOMING_KEPT + 2):  # bounded: older answers are dropped, not piled up
        view.upcoming(first + timedelta(days=day), 2)
    assert len(view._upcoming) <= UPCOMING_KEPT


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=400 * 86400), min_size=1, max_size=300))
def test_a_cron_trigger_shared_by_schedules_remembers_answers_never_wrong_ones(
    offsets: list[int],
) -> None:
    """Every schedule of one definition asks the one trigger (``spec.trigger_of``); each
    question asked twice, past the memory's bound, gets what a trigger that remembers
    nothing answers."""
    shared = _BERLIN_WEEKDAYS
    reference = CronTrigger("*/7 1-3 * * 1-5", ZoneInfo("Europe/Berlin"))
    base = datetime(2026, 1, 1, tzinfo=UTC)
    for offset in offsets + offsets:
        at = base + timedelta(seconds=offset)
        reference._memo.clear()
        assert shared.next_after(at) == reference.next_after(at)
        assert len(shared._memo) <= _MEMO_SIZE


# Across hypothesis examples: a trigger kept as the scheduler keeps one (DST days included).
_BERLIN_WEEKDAYS = CronTrigger("*/7 1-3 * * 1-5", ZoneInfo("Europe/Berlin"))
