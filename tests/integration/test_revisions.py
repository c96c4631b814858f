"""Plan / apply / rollback through the facade, on the fake clock, on SQLite and PostgreSQL:
definitions come back equal and no fire is doubled or lost across the changes."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tickwork.app import Tickwork
from tickwork.config import Settings, load_config
from tickwork.context import TaskContext
from tickwork.errors import ConfigError, NotAppliedError, RevisionConflictError
from tickwork.model import RunState
from tickwork.revisions import current_set
from tickwork.store.base import RunFilter
from tickwork.testing import FakeClock, run_until_idle

from .conftest import T0, runs_of, table

MINUTE = timedelta(minutes=1)

A = """
[[schedule]]
name = "job"
cron = "*/10 * * * *"
task = "record"

[[schedule]]
name = "poll"
every = "15m"
task = "record"
"""
B = """
[[schedule]]
name = "job"
cron = "*/15 * * * *"
task = "record"

[[schedule]]
name = "extra"
cron = "0 * * * *"
task = "record"
"""


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tw.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def configs(tmp_path: Path, database_url: str) -> Callable[[str, str], Settings]:
    def write(name: str, body: str) -> Settings:
        path = tmp_path / f"{name}.toml"
        path.write_text(f'[tickwork]\ndatabase_url = "{database_url}"\n{body}')
        return load_config(path, environ={})

    return write


@pytest.fixture
def seen() -> Counter[tuple[str, str]]:
    return Counter()


@pytest.fixture
def app(
    configs: Callable[[str, str], Settings], clock: FakeClock, seen: Counter[tuple[str, str]]
) -> Iterator[Tickwork]:
    tw = Tickwork(config=configs("a", A), clock=clock, worker_id="w")

    @tw.task(name="record")
    def record(context: TaskContext) -> None:
        seen[(context.schedule, context.nominal_fire.isoformat())] += 1

    yield tw
    tw.close()


def step(tw: Tickwork, clock: FakeClock, minutes: int) -> None:
    for _ in range(minutes):
        clock.advance(MINUTE)
        run_until_idle(tw)


def fires_of(tw: Tickwork, name: str) -> list[tuple[str, str]]:
    return [(fire[11:16], state) for fire, state, _ in table(runs_of(tw, name))]


def test_apply_a_apply_b_rollback_to_a_keeps_definitions_and_every_fire_once(
    app: Tickwork, clock: FakeClock, configs: Callable[[str, str], Settings], seen: Counter
) -> None:
    first = app.apply_plan(app.plan_config())
    assert first is not None
    set_a = current_set(app.store.list_schedules())
    step(app, clock, 30)  # 12:30
    second = app.apply_plan(app.plan_config(settings=configs("b", B)))
    assert second is not None
    assert second.summary == {"added": ["extra"], "changed": ["job"], "retired": ["poll"]}
    step(app, clock, 30)  # 13:00
    plan = app.plan_rollback()
    assert plan.label == "rollback to revision 1"
    history = app.store.list_runs(RunFilter(limit=10_000))
    third = app.apply_plan(plan, source="rollback", expect_revision=plan.base_revision)
    # Run history is never touched: the runs of before are all there, as they were
    # (the 13:00 fires due at the rollback were enqueued by the step before it).
    assert app.store.list_runs(RunFilter(limit=10_000)) == history
    assert third is not None
    assert (third.number, third.source) == (3, "rollback")
    assert current_set(app.store.list_schedules()) == set_a
    step(app, clock, 30)  # 13:30

    # Each instant belongs to the definition in force then; a fire due at a change runs
    # under the old definition, the new one fires strictly after it.
    ok = "succeeded"
    assert fires_of(app, "job") == [
        ("12:10", ok),
        ("12:20", ok),
        ("12:30", ok),
        ("12:45", ok),
        ("13:00", ok),
        ("13:10", ok),
        ("13:20", ok),
        ("13:30", ok),
    ]
    # Retired from 12:30 to 13:00: no fires then; restored with its anchor (12:00).
    assert fires_of(app, "poll") == [("12:15", ok), ("12:30", ok), ("13:15", ok), ("13:30", ok)]
    assert fires_of(app, "extra") == [("13:00", ok)]
    assert set(seen.values()) == {1}  # no fire ran twice
    assert len(seen) == 13


def test_fires_missed_before_a_change_follow_the_old_definitions_catchup_policy(
    app: Tickwork, clock: FakeClock, configs: Callable[[str, str], Settings]
) -> None:
    app.apply_plan(app.plan_config())
    step(app, clock, 10)  # 12:10 ran
    clock.set(T0 + timedelta(minutes=55))  # nothing ran from 12:10 to 12:55
    app.apply_plan(app.plan_config(settings=configs("b", B)))
    step(app, clock, 5)  # 13:00
    assert fires_of(app, "job") == [
        ("12:10", "succeeded"),
        ("12:20", "missed"),  # catchup = latest: the most recent one runs, the rest recorded
        ("12:30", "missed"),
        ("12:40", "missed"),
        ("12:50", "succeeded"),
        ("13:00", "succeeded"),  # B (*/15) from 12:55 on
    ]


def test_a_rollback_that_restores_a_definition_does_not_rerun_fires_that_have_runs(
    app: Tickwork, clock: FakeClock, configs: Callable[[str, str], Settings], seen: Counter
) -> None:
    app.apply_plan(app.plan_config())
    step(app, clock, 10)  # job 12:10 ran under A
    app.apply_plan(app.plan_config(settings=configs("b", B)))
    app.apply_plan(app.plan_rollback(), source="rollback")  # back to A within the same minute
    step(app, clock, 10)
    assert fires_of(app, "job") == [("12:10", "succeeded"), ("12:20", "succeeded")]
    assert set(seen.values()) == {1}


def test_an_apply_made_against_an_older_revision_is_refused_and_changes_nothing(
    app: Tickwork, configs: Callable[[str, str], Settings]
) -> None:
    app.apply_plan(app.plan_config())
    stale = app.plan_config(settings=configs("b", B))
    app.apply_plan(app.plan_config(settings=configs("c", A.replace("*/10", "*/5"))))
    before = current_set(app.store.list_schedules())
    with pytest.raises(RevisionConflictError):
        app.apply_plan(stale, expect_revision=stale.base_revision)
    assert current_set(app.store.list_schedules()) == before
    assert [r.number for r in app.revisions()] == [2, 1]


def test_sync_records_a_revision_only_when_something_changed(app: Tickwork) -> None:
    app.sync()
    app.sync()
    (revision,) = app.revisions()
    assert revision.source == "sync"
    assert revision.applied_by.startswith("config ")
    assert revision.summary["added"] == ["job", "poll"]


def test_code_schedules_are_recorded_with_source_python(app: Tickwork) -> None:
    app.add_schedule(name="from-code", every="1h", task="record")
    app.sync()
    sources = sorted(r.source for r in app.revisions())
    assert sources == ["python", "sync"]


def test_require_applied_refuses_a_config_that_differs_and_changes_nothing(
    app: Tickwork, clock: FakeClock, configs: Callable[[str, str], Settings]
) -> None:
    app.sync()
    changed = Tickwork(config=configs("b", B), clock=clock)
    try:
        with pytest.raises(NotAppliedError) as caught:
            changed.sync(require_applied=True)
        assert "1 to add, 1 to change, 1 to retire" in str(caught.value)
        assert [r.number for r in changed.revisions()] == [1]
        assert {r.name for r in changed.store.list_schedules()} == {"job", "poll"}
    finally:
        changed.close()
    app.sync(require_applied=True)  # the applied config starts


def test_a_config_plan_never_retires_api_or_code_schedules(app: Tickwork) -> None:
    app.add_schedule(name="from-code", every="1h", task="record")
    app.sync()
    api = app.define_schedules(
        {"from-api": {"cron": "0 4 * * *", "task": "record"}}, applied_by="token ci"
    )
    assert api is not None
    assert (api.source, api.applied_by) == ("api", "token ci")
    empty = Tickwork(config=replace(app.settings, schedules=()))
    try:
        plan = empty.plan_config()
        assert plan.summary()["retired"] == ["job", "poll"]
    finally:
        empty.close()


def test_define_schedules_lists_every_invalid_definition_and_changes_nothing(
    app: Tickwork,
) -> None:
    with pytest.raises(ConfigError) as caught:
        app.define_schedules(
            {"a": {"cron": "61 * * * *", "task": "x"}, "b": {"every": "soon", "task": "x"}},
            applied_by="token ci",
        )
    assert len(caught.value.problems) == 2
    assert app.revisions() == []


# -- shadow mode ---------------------------------------------------------------------------


def test_shadow_mode_runs_no_task_and_records_what_would_have_run(
    tmp_path: Path, clock: FakeClock, database_url: str
) -> None:
    marker = tmp_path / "created"
    path = tmp_path / "shadow.toml"
    path.write_text(
        f'[tickwork]\ndatabase_url = "{database_url}"\n'
        "[[schedule]]\n"
        'name = "make-file"\n'
        'cron = "* * * * *"\n'
        f'command = "touch {marker}"\n'
        'env = { API_TOKEN = "s3cr3t", DSN = "postgresql://app:pw@db/app", MODE = "x" }\n'
        "[[schedule]]\n"
        'name = "call"\n'
        'cron = "* * * * *"\n'
        'task = "never"\n'
    )
    tw = Tickwork(config=load_config(path, environ={}), clock=clock, shadow=True)
    called: list[datetime] = []
    tw.task(name="never")(lambda context: called.append(context.nominal_fire))
    try:
        tw.sync()
        step(tw, clock, 2)
        assert not marker.exists()
        assert called == []
        runs = runs_of(tw, "make-file")
        assert [r.state for r in runs] == [RunState.shadowed, RunState.shadowed]
        detail = json.loads(runs[0].output or "{}")
        assert detail["kind"] == "command"
        assert detail["command"] == f"touch {marker}"
        assert detail["env"]["API_TOKEN"] == "***"
        assert detail["env"]["DSN"] == "postgresql://***@db/app"
        assert detail["env"]["MODE"] == "x"
        assert detail["env"]["TICKWORK_SCHEDULE"] == "make-file"
        assert detail["env"]["TICKWORK_IDEMPOTENCY_KEY"] == runs[0].idempotency_key
        assert "s3cr3t" not in (runs[0].output or "")
        events = [e.event for e in tw.store.run_events(runs[0].id)]
        assert events[-1] == "run_shadowed"
        (task_run, _) = runs_of(tw, "call")
        assert task_run.state is RunState.shadowed
        task_detail = json.loads(task_run.output or "{}")
        assert task_detail["task"] == "never"
        assert task_detail["arguments"]["context"]["idempotency_key"] == task_run.idempotency_key
    finally:
        tw.close()


def test_two_processes_applying_against_the_same_revision_one_wins_one_changes_nothing(
    configs: Callable[[str, str], Settings], clock: FakeClock
) -> None:
    """Two apps (own stores and connections), each applying its own config against the
    revision both planned from, released at once."""
    apps = [Tickwork(config=configs(f"p{i}", body), clock=clock) for i, body in enumerate((A, B))]
    try:
        apps[0].apply_plan(apps[0].plan_config(settings=configs("base", A.replace("10", "5"))))
        plans = [tw.plan_config() for tw in apps]
        assert {p.base_revision for p in plans} == {1}
        barrier = threading.Barrier(2, timeout=30)

        def race(i: int) -> str:
            barrier.wait()
            try:
                apps[i].apply_plan(plans[i], expect_revision=1)
            except RevisionConflictError:
                return "refused"
            return "applied"

        with ThreadPoolExecutor(2) as pool:
            outcomes = list(pool.map(race, range(2), timeout=30))
        assert sorted(outcomes) == ["applied", "refused"]
        winner = outcomes.index("applied")
        assert apps[winner].plan_config().empty  # the store is exactly the winner's config
        assert [r.number for r in apps[0].revisions()] == [2, 1]
    finally:
        for tw in apps:
            tw.close()
