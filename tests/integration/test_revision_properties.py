"""Invariants of apply and rollback on a real store (SQLite file), over random histories."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tickwork.app import Tickwork
from tickwork.config import Settings
from tickwork.errors import RevisionNotFoundError
from tickwork.revisions import Definition, current_set
from tickwork.spec import validate_schedule
from tickwork.testing import FakeClock

from .conftest import T0

NAMES = ["a", "b", "c", "d"]
TRIGGERS = [{"cron": "0 3 * * *"}, {"cron": "*/5 * * * *"}, {"every": "15m"}, {"every": "1h"}]
CONFIG_SETS = st.dictionaries(st.sampled_from(NAMES), st.sampled_from(TRIGGERS), max_size=4)


def settings_for(path: Path, url: str, wanted: dict[str, dict[str, Any]]) -> Settings:
    schedules = tuple(
        validate_schedule({"name": n, "command": "true", **t}) for n, t in sorted(wanted.items())
    )
    return Settings(database_url=url, schedules=schedules, path=path)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    history=st.lists(CONFIG_SETS, min_size=1, max_size=5),
    api=CONFIG_SETS,
    pick=st.integers(min_value=0),
)
def test_rollback_to_any_revision_restores_the_set_recorded_then(
    history: list[dict[str, dict[str, Any]]], api: dict[str, dict[str, Any]], pick: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tickwork.toml"
        url = f"sqlite:///{tmp}/tw.db"
        clock = FakeClock(T0)
        tw = Tickwork(config=settings_for(path, url, {}), clock=clock)
        try:
            sets: dict[int, dict[str, Definition]] = {0: {}}
            api_defs = {f"api-{n}": {"command": "true", **t} for n, t in api.items()}
            if api_defs:  # schedules of another owner, which config plans never touch
                revision = tw.define_schedules(api_defs, applied_by="test")
                assert revision is not None
                sets[revision.number] = current_set(tw.store.list_schedules())
            for wanted in history:
                clock.advance(timedelta(minutes=7))
                plan = tw.plan_config(settings=settings_for(path, url, wanted))
                revision = tw.apply_plan(plan, expect_revision=plan.base_revision)
                stored = current_set(tw.store.list_schedules())
                assert {n for n, d in stored.items() if d.source == "config"} == set(wanted)
                assert {n for n, d in stored.items() if d.source == "api"} == set(api_defs)
                if revision is not None:
                    sets[revision.number] = stored
            latest = max(sets)
            if latest == 0:  # nothing was ever recorded: nothing to roll back to
                with pytest.raises(RevisionNotFoundError):
                    tw.plan_rollback(0)
                return
            target = pick % (latest + 1)
            clock.advance(timedelta(minutes=7))
            plan = tw.plan_rollback(target)
            tw.apply_plan(plan, source="rollback", expect_revision=plan.base_revision)
            assert current_set(tw.store.list_schedules()) == sets[target]
            assert tw.plan_rollback(target).empty
        finally:
            tw.close()
