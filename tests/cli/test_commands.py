"""The operator commands: check, schedules, runs, trigger, pause, resume, db upgrade."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tickwork.app import Tickwork
from tickwork.cli import cli
from tickwork.config import load_config
from tickwork.testing import FakeClock, run_until_idle

CONFIG = """
[tickwork]
database_url = "sqlite:///{db}"

[[schedule]]
name = "hello"
cron = "*/5 * * * *"
command = "echo hello"

[[schedule]]
name = "broken"
every = "1h"
command = "echo oops >&2; exit 3"
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "tickwork.toml"
    path.write_text(CONFIG.format(db=tmp_path / "tw.db"))
    return path


@pytest.fixture
def history(config: Path) -> Iterator[Tickwork]:
    """The config's schedules after 10 minutes of fake time: two runs of each kind."""
    clock = FakeClock(datetime(2026, 3, 2, 12, 0, tzinfo=UTC))
    tw = Tickwork(config=load_config(config), clock=clock, worker_id="test")
    tw.sync()
    tw.trigger("broken")
    for _ in range(2):
        clock.advance(timedelta(minutes=5))
        run_until_idle(tw)
    yield tw
    tw.close()


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def test_check_lists_schedules_with_next_fire(config: Path) -> None:
    result = invoke("check", "--config", str(config))
    assert result.exit_code == 0, result.stderr
    assert "ok, 2 schedules" in result.stdout
    assert "*/5 * * * *" in result.stdout
    data = json.loads(invoke("check", "--config", str(config), "--json").stdout)
    assert [s["name"] for s in data["schedules"]] == ["hello", "broken"]


def test_check_reports_every_problem_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[[schedule]]\nname = "x"\ncron = "0 25 * * *"\ncommand = "true"\n'
        '[[schedule]]\nname = "y"\nevery = "soon"\ntask = "m:f"\n'
    )
    result = invoke("check", "--config", str(bad))
    assert result.exit_code == 2
    assert "schedule 'x', key 'cron': hour value 25 is out of range" in result.stderr
    assert "expected 0-23" in result.stderr
    assert "schedule 'y', key 'every'" in result.stderr
    assert "schedule 'y', key 'task': cannot import task 'm:f'" in result.stderr
    problems = json.loads(invoke("check", "--config", str(bad), "--json").stdout)["problems"]
    assert {p["field"] for p in problems} == {"cron", "every", "task"}


def test_check_lists_unimportable_tasks_with_the_other_problems(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[tickwork]\nconcurrency = 0\ndatabase_url = "mysql://db/x"\n'
        '[[schedule]]\nname = "a"\ncron = "61 * * * *"\ntask = "nope.module:fn"\n'
        '[[schedule]]\ncron = "@daily"\ntask = "also_nope:fn"\n'
        '[[schedule]]\nname = "c"\nevery = "1h"\ntask = 7\n'
    )
    result = invoke("check", "--config", str(bad))
    assert result.exit_code == 2
    assert "concurrency" in result.stderr
    assert "minute value 61" in result.stderr
    assert "unsupported database 'mysql'" in result.stderr
    assert (
        "schedule 'a', key 'task': cannot import task 'nope.module:fn': No module named 'nope'"
        in result.stderr
    )
    assert "schedule #2, key 'task': cannot import task 'also_nope:fn'" in result.stderr
    problems = json.loads(invoke("check", "--config", str(bad), "--json").stdout)["problems"]
    assert [p["value"] for p in problems if p["field"] == "task"][-2:] == [
        "nope.module:fn",
        "also_nope:fn",
    ]


def test_bad_config_leaves_stored_schedules_unchanged(config: Path, history: Tickwork) -> None:
    before = [(r.name, r.spec, r.version) for r in history.store.list_schedules()]
    config.write_text(config.read_text().replace('"*/5 * * * *"', '"*/5 * * *"'))
    result = invoke("run", "--config", str(config))
    assert result.exit_code == 2
    assert "schedule 'hello', key 'cron': cron expression has 4 fields" in result.stderr
    after = [(r.name, r.spec, r.version) for r in history.store.list_schedules()]
    assert after == before


def test_runs_json_has_the_fields_scripts_parse(config: Path, history: Tickwork) -> None:
    result = invoke("runs", "--config", str(config), "--json")
    assert result.exit_code == 0, result.stderr
    runs = json.loads(result.stdout)
    assert {
        "id",
        "schedule",
        "nominal_fire",
        "state",
        "attempt",
        "started_at",
        "finished_at",
        "exit_code",
        "error",
    } <= set(runs[0])
    hello = [r for r in runs if r["schedule"] == "hello"]
    assert [r["nominal_fire"] for r in hello] == [
        "2026-03-02T12:10:00+00:00",
        "2026-03-02T12:05:00+00:00",
    ]
    assert {r["state"] for r in hello} == {"succeeded"}
    (broken,) = [r for r in runs if r["schedule"] == "broken"]
    assert (broken["state"], broken["exit_code"]) == ("failed", 3)


def test_runs_filters_by_schedule_and_status(config: Path, history: Tickwork) -> None:
    result = invoke("runs", "--config", str(config), "--status", "failed", "--json")
    assert [r["schedule"] for r in json.loads(result.stdout)] == ["broken"]
    result = invoke("runs", "--config", str(config), "-s", "hello", "-n", "1", "--json")
    assert len(json.loads(result.stdout)) == 1
    table = invoke("runs", "--config", str(config))
    assert "hello" in table.stdout
    assert "succeeded" in table.stdout


def test_runs_show_prints_output_error_and_events(config: Path, history: Tickwork) -> None:
    (broken,) = json.loads(invoke("runs", "--config", str(config), "-s", "broken", "--json").stdout)
    result = invoke("runs", "show", str(broken["id"]), "--config", str(config))
    assert result.exit_code == 0, result.stderr
    assert "oops" in result.stdout
    assert "exit code 3" in result.stdout
    assert "run_claimed" in result.stdout
    assert "run_failed" in result.stdout
    data = json.loads(
        invoke("runs", "show", str(broken["id"]), "--config", str(config), "--json").stdout
    )
    assert data["output"].strip() == "oops"
    assert [e["event"] for e in data["events"]] == ["run_triggered", "run_claimed", "run_failed"]


def test_unknown_run_and_schedule_exit_2_with_a_message(config: Path, history: Tickwork) -> None:
    result = invoke("runs", "show", "9999", "--config", str(config))
    assert (result.exit_code, result.stdout) == (2, "")
    assert "no run with id 9999" in result.stderr
    for verb in ("trigger", "pause", "resume"):
        result = invoke(verb, "nope", "--config", str(config))
        assert result.exit_code == 2
        assert "no schedule named 'nope'" in result.stderr


def test_schedules_list_and_show(config: Path, history: Tickwork) -> None:
    listing = json.loads(invoke("schedules", "--config", str(config), "--json").stdout)
    assert [s["name"] for s in listing] == ["broken", "hello"]
    result = invoke("schedules", "show", "hello", "--config", str(config), "-n", "3")
    assert result.exit_code == 0, result.stderr
    assert "Every 5 minutes" in result.stdout
    shown = json.loads(
        invoke("schedules", "show", "hello", "--config", str(config), "--json").stdout
    )
    assert shown["next_fires"][0] == "2026-03-02T12:15:00+00:00"
    assert len(shown["recent_runs"]) == 2


def test_schedules_shows_next_fire_and_last_result_in_the_schedules_zone(
    tmp_path: Path,
) -> None:
    path = tmp_path / "tickwork.toml"
    path.write_text(
        f'[tickwork]\ndatabase_url = "sqlite:///{tmp_path / "tw.db"}"\n\n'
        '[[schedule]]\nname = "b"\nevery = "1h"\ntz = "Europe/Berlin"\ncommand = "true"\n'
    )
    clock = FakeClock(datetime(2026, 3, 2, 12, 0, tzinfo=UTC))
    tw = Tickwork(config=load_config(path), clock=clock, worker_id="test")
    tw.sync()
    tw.trigger("b")
    clock.advance(timedelta(minutes=5))
    run_until_idle(tw)
    tw.close()
    result = CliRunner().invoke(cli, ["schedules", "--config", str(path)], terminal_width=200)
    assert result.exit_code == 0, result.stderr
    assert "2026-03-02 14:00:00+01:00" in result.stdout  # next fire, 13:00 UTC
    assert "succeeded (2026-03-02 13:05:00+01:00)" in result.stdout  # ended 12:05 UTC
    assert "+00:00" not in result.stdout


def test_trigger_pause_and_resume(config: Path, history: Tickwork) -> None:
    result = invoke("trigger", "hello", "--config", str(config), "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["kind"] == "manual"
    assert invoke("pause", "hello", "--config", str(config)).stdout.strip() == "hello paused"
    assert history.store.get_schedule("hello").paused  # type: ignore[union-attr]
    assert invoke("resume", "hello", "--config", str(config)).stdout.strip() == "hello resumed"
    assert not history.store.get_schedule("hello").paused  # type: ignore[union-attr]


def test_db_upgrade_is_idempotent(config: Path) -> None:
    for _ in range(2):
        result = invoke("db", "upgrade", "--config", str(config))
        assert result.exit_code == 0, result.stderr
        assert "latest revision" in result.stdout


def test_workers_lists_registered_processes(config: Path, history: Tickwork) -> None:
    history.register("scheduler,worker")
    data = json.loads(invoke("workers", "--config", str(config), "--json").stdout)
    assert [(w["id"], w["roles"]) for w in data] == [("test", "scheduler,worker")]
    assert data[0]["alive"] is False  # its heartbeat is on the fake clock, hours ago


def test_group_options_count_for_sub_commands(config: Path, history: Tickwork) -> None:
    result = invoke("runs", "--config", str(config), "--json", "show", "1")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["id"] == 1
    result = invoke("schedules", "--config", str(config), "show", "hello")
    assert result.exit_code == 0, result.stderr


def test_read_commands_do_not_create_a_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for args in (("runs",), ("schedules",), ("workers",), ("runs", "show", "1")):
        result = invoke(*args)
        assert result.exit_code == 2, args
        assert "no tickwork database at tickwork.db" in result.stderr
    assert not (tmp_path / "tickwork.db").exists()


def test_runs_of_an_unknown_schedule_is_an_error(config: Path, history: Tickwork) -> None:
    result = invoke("runs", "--config", str(config), "-s", "nope")
    assert result.exit_code == 2
    assert "no schedule named 'nope'" in result.stderr


def test_check_reports_what_run_would_fail_on(tmp_path: Path) -> None:
    path = tmp_path / "tickwork.toml"
    path.write_text(
        '[tickwork]\ndatabase_url = "mysql://u:secret@db/x"\n\n'
        '[[schedule]]\nname = "t"\ncron = "@daily"\ntask = "no_such_module:fn"\n'
    )
    result = invoke("check", "--config", str(path))
    assert result.exit_code == 2
    assert "unsupported database 'mysql'" in result.stderr
    assert "secret" not in result.stderr
    assert "schedule 't', key 'task': cannot import task 'no_such_module:fn'" in result.stderr
