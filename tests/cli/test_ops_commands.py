"""tickwork backfill, tickwork doctor and tickwork db prune."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tickwork import __version__
from tickwork.app import Tickwork
from tickwork.cli import cli
from tickwork.config import load_config
from tickwork.model import RunState, WorkerInfo
from tickwork.store.base import RunFilter
from tickwork.store.ops import BACKFILL_PARKED
from tickwork.testing import FakeClock, run_until_idle

CONFIG = """
[tickwork]
database_url = "sqlite:///{db}"

[[schedule]]
name = "hourly"
cron = "0 * * * *"
tz = "Europe/Berlin"
command = "true"

[[schedule]]
name = "often"
cron = "* * * * *"
command = "true"
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "tickwork.toml"
    path.write_text(CONFIG.format(db=tmp_path / "tw.db"))
    return path


@pytest.fixture
def app(config: Path) -> Iterator[Tickwork]:
    """The config synced into the store (no process running)."""
    tw = Tickwork(config=load_config(config), worker_id="test")
    tw.sync()
    yield tw
    tw.close()


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def runs_of(tw: Tickwork, name: str) -> list[tuple[str, str, str]]:
    found = tw.store.list_runs(RunFilter(schedule=name, limit=100_000))
    return sorted((r.nominal_fire.isoformat(), r.kind, r.state.value) for r in found)


# -- backfill ------------------------------------------------------------------------------


def test_backfill_twice_creates_each_run_once(config: Path, app: Tickwork) -> None:
    args = ["backfill", "hourly", "--from", "2026-03-01T00:00", "--to", "2026-03-01T03:00"]
    first = invoke(*args, "--config", str(config))
    assert first.exit_code == 0, first.stderr
    assert "4 fires from 2026-03-01 00:00:00+01:00 to 2026-03-01 03:00:00+01:00" in first.stdout
    assert "4 runs created, 0 already had a run" in first.stdout
    assert "one at a time, oldest first" in first.stdout
    second = invoke(*args, "--to", "2026-03-01T04:00", "--config", str(config), "--json")
    assert second.exit_code == 0, second.stderr
    assert json.loads(second.stdout) | {"from": None, "to": None} == {
        "schedule": "hourly",
        "from": None,
        "to": None,
        "fires": 5,
        "created": 1,
        "existing": 4,
        "overlap": "buffer_all",
    }
    # Local times in the schedule's zone (Europe/Berlin, +01:00 in March): 23:00Z to 03:00Z.
    assert {(kind, state) for _, kind, state in runs_of(app, "hourly")} == {("backfill", "queued")}
    fires = [f for f, _, _ in runs_of(app, "hourly")]
    assert fires == [
        "2026-02-28T23:00:00+00:00",
        "2026-03-01T00:00:00+00:00",
        "2026-03-01T01:00:00+00:00",
        "2026-03-01T02:00:00+00:00",
        "2026-03-01T03:00:00+00:00",
    ]
    parked = app.store.list_runs(RunFilter(schedule="hourly"))
    assert {r.due_at for r in parked} == {BACKFILL_PARKED}


def test_backfill_with_the_schedules_own_policy_makes_runs_due_now(
    config: Path, app: Tickwork
) -> None:
    result = invoke(
        "backfill", "often", "--from", "2026-03-01T00:00:00+00:00",
        "--to", "2026-03-01T00:02:00+00:00", "--overlap", "skip", "--config", str(config),
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "claimed under the schedule's overlap policy (skip)" in result.stdout
    due = {r.due_at for r in app.store.list_runs(RunFilter(schedule="often"))}
    assert BACKFILL_PARKED not in due
    assert len(due) == 1


def test_dry_run_lists_fires_and_writes_nothing(config: Path, app: Tickwork) -> None:
    base = ["backfill", "often", "--config", str(config), "--to", "2026-03-01T00:02:00Z"]
    invoke(*base, "--from", "2026-03-01T00:01:00Z")
    result = invoke(*base, "--from", "2026-03-01T00:00:00Z", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "2026-03-01 00:00:00+00:00 │ would create" in result.stdout
    assert "2026-03-01 00:01:00+00:00 │ has one (queued)" in result.stdout
    assert "3 fires: 1 would be created, 2 have a run" in result.stdout
    listed = invoke(*base, "--from", "2026-03-01T00:00:00Z", "--dry-run", "--json")
    assert json.loads(listed.stdout) == [
        {"fire": "2026-03-01T00:00:00+00:00", "run": None},
        {"fire": "2026-03-01T00:01:00+00:00", "run": "queued"},
        {"fire": "2026-03-01T00:02:00+00:00", "run": "queued"},
    ]
    assert len(runs_of(app, "often")) == 2


def test_a_range_without_fires_says_why(config: Path, app: Tickwork) -> None:
    app.add_schedule(name="poll", every="15m", command="true")  # anchored now: no past fires
    app.sync()
    args = ["backfill", "poll", "--from", "2026-03-01T00:00Z", "--to", "2026-03-01T03:00Z"]
    result = invoke(*args, "--config", str(config))
    assert result.exit_code == 0, result.stderr
    assert "0 fires" in result.stdout
    assert "note: poll (every 15m) has no fire from" in result.stderr
    assert "fires at its anchor + n * every" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["--from", "yesterday", "--to", "2026-03-01T00:00Z"],
            "bad --from 'yesterday'",
            id="from",
        ),
        pytest.param(
            ["--from", "2026-03-01T00:00Z", "--to", "2026-03-01T01:00 Mars/Olympus"],
            "--to '2026-03-01T01:00 Mars/Olympus': unknown time zone",
            id="zone",
        ),
        pytest.param(
            ["--from", "2026-03-02T00:00Z", "--to", "2026-03-01T00:00Z"],
            "is before --from",
            id="order",
        ),
        pytest.param(
            ["--from", "2026-03-01T00:00Z", "--to", "2999-01-01T00:00Z"],
            "in the future",
            id="future",
        ),
        pytest.param(
            ["--from", "2026-03-01T00:00Z", "--to", "2026-03-01T00:00Z", "--overlap", "allow"],
            "use buffer_all or skip",
            id="overlap",
        ),
        pytest.param(
            ["--from", "2026-01-01T00:00Z", "--to", "2026-03-01T00:00Z", "--limit", "100"],
            "more than 100 fires",
            id="limit",
        ),
    ],
)
def test_bad_backfills_exit_2_and_write_nothing(
    config: Path, app: Tickwork, args: list[str], message: str
) -> None:
    result = invoke("backfill", "often", "--config", str(config), *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert runs_of(app, "often") == []


def test_backfill_of_an_unknown_schedule_exits_2(config: Path, app: Tickwork) -> None:
    result = invoke(
        "backfill", "nope", "--from", "2026-03-01T00:00Z", "--to", "2026-03-01T00:00Z",
        "--config", str(config),
    )  # fmt: skip
    assert result.exit_code == 2
    assert "nope" in result.stderr


def test_a_large_backfill_shows_progress(config: Path, app: Tickwork) -> None:
    result = invoke(
        "backfill", "often", "--from", "2026-03-01T00:00Z", "--to", "2026-03-02T23:59Z",
        "--config", str(config),
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "backfill often" in result.stderr
    assert "2880/2880" in result.stderr
    assert "2880 runs created" in result.stdout
    assert len(runs_of(app, "often")) == 2880


# -- db prune ------------------------------------------------------------------------------


def test_prune_deletes_old_finished_runs_and_keeps_counts(config: Path) -> None:
    clock = FakeClock(datetime(2026, 3, 2, 12, 0, tzinfo=UTC))  # long ago
    tw = Tickwork(config=load_config(config), clock=clock, worker_id="t")
    try:
        tw.sync()
        for _ in range(3):
            clock.advance(timedelta(minutes=1))
            run_until_idle(tw)
        before = tw.ops_store.run_totals("often")
        result = invoke("db", "prune", "--older-than", "30d", "--config", str(config))
        assert result.exit_code == 0, result.stderr
        assert "pruned 3 finished runs older than 30d" in result.stdout
        assert tw.store.count_runs("often")[RunState.succeeded] == 0
        assert tw.ops_store.run_totals("often") == before
        again = invoke("db", "prune", "--config", str(config), "--json")  # retention: 30d
        assert json.loads(again.stdout)["deleted"] == 0
    finally:
        tw.close()


def test_prune_without_retention_or_age_exits_2(config: Path, app: Tickwork) -> None:
    env = {"TICKWORK_RETENTION": "0"}
    result = CliRunner(env=env).invoke(cli, ["db", "prune", "--config", str(config)])
    assert result.exit_code == 2
    assert "--older-than" in result.stderr
    bad = invoke("db", "prune", "--older-than", "soon", "--config", str(config))
    assert bad.exit_code == 2
    assert "older-than" in bad.stderr


# -- doctor --------------------------------------------------------------------------------


def _alive(tw: Tickwork, roles: str = "scheduler,worker") -> None:
    now = datetime.now(UTC)
    tw.store.register_worker(
        WorkerInfo(
            id=f"host:{os.getpid()}:{roles}",
            host="host",
            pid=os.getpid(),
            version=__version__,
            roles=roles,
            started_at=now,
            heartbeat_at=now,
        )
    )


def test_doctor_all_ok_exits_0(config: Path, app: Tickwork) -> None:
    _alive(app)
    result = invoke("doctor", "--config", str(config))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split()[:2] for line in lines] == [
        ["OK", "database"],
        ["OK", "clock"],
        ["OK", "workers"],
        ["OK", "overdue"],
        ["OK", "failing"],
        ["OK", "config"],
    ]
    assert "schema at the latest revision (0005)" in lines[0]


def test_doctor_names_each_problem_with_its_fix(config: Path, app: Tickwork) -> None:
    _alive(app, roles="worker")
    config.write_text(config.read_text().replace('cron = "* * * * *"', 'cron = "*/2 * * * *"'))
    # An overdue schedule, as the monitor records it.
    app.ops_store.check_overdue(
        datetime.now(UTC), None, 100, lambda row, last: (row.created_at, row.created_at)
    )
    result = invoke("doctor", "--config", str(config), "--json")
    assert result.exit_code == 1
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["database"]["ok"]
    assert checks["clock"]["ok"]
    assert not checks["workers"]["ok"]
    assert "no live process with the role scheduler" in checks["workers"]["message"]
    assert "tickwork scheduler" in checks["workers"]["fix"]
    assert not checks["overdue"]["ok"]
    assert "2 schedules overdue: hourly" in checks["overdue"]["message"]
    assert not checks["config"]["ok"]
    assert "different: often" in checks["config"]["message"]
    assert "tickwork plan" in checks["config"]["fix"]


def test_doctor_on_an_old_schema_says_upgrade(config: Path, tmp_path: Path) -> None:
    from sqlalchemy import create_engine

    from tickwork.store import migrations

    engine = create_engine(f"sqlite:///{tmp_path / 'tw.db'}")
    with engine.begin() as conn:
        migrations.upgrade(conn, "0002")
    engine.dispose()
    result = invoke("doctor", "--config", str(config))
    assert result.exit_code == 1
    assert "schema at revision 0002, this tickwork needs 0005" in result.stdout
    assert "fix: run `tickwork db upgrade`" in result.stdout


def test_doctor_exits_3_when_the_database_is_unreachable(config: Path, tmp_path: Path) -> None:
    missing = invoke("doctor", "--config", str(config))  # no database file yet
    assert missing.exit_code == 3
    assert "no SQLite database at" in missing.stdout
    port = socket.socket()
    port.bind(("127.0.0.1", 0))
    closed = port.getsockname()[1]
    port.close()  # nothing listens there
    env = {"TICKWORK_DATABASE_URL": f"postgresql://tickwork@127.0.0.1:{closed}/tickwork"}
    result = CliRunner(env=env).invoke(cli, ["doctor", "--config", str(config)])
    assert result.exit_code == 3, result.output
    assert "PROBLEM database  not reachable" in result.stdout


def test_doctor_reports_failing_and_paused_schedules(config: Path) -> None:
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    settings = replace(load_config(config), pause_after_failures=2)
    tw = Tickwork(config=settings, clock=clock, worker_id="t")
    try:
        tw.add_schedule(name="broken", every="1m", command="exit 1")
        tw.sync()
        for _ in range(2):
            clock.advance(timedelta(minutes=1))
            run_until_idle(tw)
        clock.advance(timedelta(seconds=6))
        run_until_idle(tw)
        _alive(tw)
        result = invoke("doctor", "--config", str(config))
    finally:
        tw.close()
    assert result.exit_code == 1
    assert "PROBLEM failing   1 schedule failing: broken (2 in a row, paused)" in result.stdout
    assert "once fixed, `tickwork resume broken`" in result.stdout
