"""tickwork plan / apply / rollback / revisions, next --schedule and run --require-applied."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tickwork.cli import cli

V1 = """
[tickwork]
database_url = "sqlite:///{db}"
timezone = "Europe/Berlin"

[[schedule]]
name = "nightly"
cron = "0 3 * * *"
command = "true"

[[schedule]]
name = "poll"
every = "15m"
command = "curl https://bot:hunter2@feeds.example/"
"""
V2 = """
[tickwork]
database_url = "sqlite:///{db}"
timezone = "Europe/Berlin"

[[schedule]]
name = "nightly"
cron = "30 2 * * *"
tz = "America/New_York"
command = "true"

[[schedule]]
name = "report"
cron = "0 8 * * mon"
command = "true"
"""
BROKEN = """
[tickwork]
database_url = "sqlite:///{db}"

[[schedule]]
name = "a"
cron = "61 * * * *"
command = "true"

[[schedule]]
name = "b"
every = "soon"
command = "true"
"""


Write = Callable[[str, str], str]


@pytest.fixture
def write(tmp_path: Path) -> Write:
    def make(name: str, body: str) -> str:
        path = tmp_path / f"{name}.toml"
        path.write_text(body.format(db=tmp_path / "tw.db"))
        return str(path)

    return make


def invoke(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=input)


def test_plan_exits_1_with_changes_and_0_once_applied(write: Write) -> None:
    v1 = write("v1", V1)
    planned = invoke("plan", "-c", v1)
    assert planned.exit_code == 1, planned.output
    assert "+ nightly (added, config)" in planned.output
    assert "2 to add, 0 to change, 0 to retire, 0 unchanged." in planned.output
    assert "hunter2" not in planned.output
    applied = invoke("apply", "-c", v1)
    assert applied.exit_code == 0, applied.output
    assert "Applied as revision 1." in applied.output
    again = invoke("plan", "-c", v1)
    assert again.exit_code == 0
    assert "No changes" in again.output


def test_plan_shows_changes_field_by_field_with_fires_in_the_zone(write: Write) -> None:
    invoke("apply", "-c", write("v1", V1))
    planned = invoke("plan", "-c", write("v2", V2))
    assert planned.exit_code == 1
    assert '    cron: "0 3 * * *" -> "30 2 * * *"' in planned.output
    assert '    tz: "Europe/Berlin" -> "America/New_York"' in planned.output
    assert "next fires before:" in planned.output
    assert " 02:30 E" in planned.output  # EST or EDT, New York time
    assert "- poll (retired, config)" in planned.output
    as_json = invoke("plan", "-c", write("v2", V2), "--json")
    assert as_json.exit_code == 1
    data = json.loads(as_json.output)
    assert data["changed"] is True
    assert data["summary"]["retired"] == ["poll"]
    assert data["base_revision"] == 1
    (nightly,) = [c for c in data["changes"] if c["name"] == "nightly"]
    assert len(nightly["fires_before"]) == len(nightly["fires_after"]) == 3


def test_an_invalid_config_lists_every_problem_and_exits_2(write: Write) -> None:
    for command in ("plan", "apply"):
        result = invoke(command, "-c", write("broken", BROKEN))
        assert result.exit_code == 2
        assert "2 problems" in result.output
        assert "'a'" in result.output
        assert "'b'" in result.output
    as_json = json.loads(invoke("plan", "-c", write("broken", BROKEN), "--json").output)
    assert as_json["ok"] is False
    assert len(as_json["problems"]) == 2


def test_apply_with_a_stale_expected_revision_refuses_and_changes_nothing(write: Write) -> None:
    v1, v2 = write("v1", V1), write("v2", V2)
    assert invoke("apply", "-c", v1, "--expect-revision", "0").exit_code == 0
    refused = invoke("apply", "-c", v2, "--expect-revision", "0")
    assert refused.exit_code == 2
    assert "the latest revision is 1, not 0" in refused.output
    assert invoke("plan", "-c", v1).exit_code == 0  # still v1
    assert invoke("apply", "-c", v2, "--expect-revision", "1").exit_code == 0


def test_rollback_prints_the_plan_asks_and_applies_as_a_new_revision(write: Write) -> None:
    v1, v2 = write("v1", V1), write("v2", V2)
    invoke("apply", "-c", v1)
    invoke("apply", "-c", v2)
    declined = invoke("rollback", "-c", v2, input="n\n")
    assert declined.exit_code == 1
    assert "Plan: rollback to revision 1 against revision 2" in declined.output
    assert "Not applied." in declined.output
    done = invoke("rollback", "-c", v2, "--yes")
    assert done.exit_code == 0, done.output
    assert "as revision 3." in done.output
    assert invoke("plan", "-c", v1).exit_code == 0  # the store equals v1 again
    listed = invoke("revisions", "-c", v1)
    assert listed.exit_code == 0
    assert "rollback" in listed.output
    shown = invoke("revisions", "-c", v1, "show", "2")
    assert shown.exit_code == 0
    assert "Revision 2 (apply)" in shown.output
    assert '~ cron: "0 3 * * *" -> "30 2 * * *"' in shown.output
    missing = invoke("revisions", "-c", v1, "show", "9")
    assert missing.exit_code == 2
    assert "no revision 9" in missing.output


def test_rollback_to_a_revision_that_does_not_exist_exits_2(write: Write) -> None:
    v1 = write("v1", V1)
    invoke("plan", "-c", v1)  # creates the database, records nothing
    nothing = invoke("rollback", "-c", v1, "--yes")
    assert nothing.exit_code == 2
    assert "nothing to roll back" in nothing.output
    invoke("apply", "-c", v1)
    result = invoke("rollback", "-c", v1, "--to", "5", "--yes")
    assert result.exit_code == 2
    assert "no revision 5" in result.output


def test_next_schedule_prints_stored_fires_in_the_zone_and_utc(write: Write) -> None:
    v1 = write("v1", V1)
    unapplied = invoke("next", "-c", v1, "--schedule", "nightly", "-n", "2")
    assert unapplied.exit_code == 0, unapplied.output
    assert "config, not applied yet" in unapplied.output
    invoke("apply", "-c", v1)
    stored = invoke("next", "-c", v1, "--schedule", "nightly", "-n", "2")
    assert stored.exit_code == 0
    assert "stored, config" in stored.output
    lines = [line for line in stored.output.splitlines() if line.startswith("  ")]
    assert len(lines) == 2
    # Berlin: 03:00 local is 02:00Z in winter (CET) and 01:00Z in summer (CEST).
    assert all(
        (" 03:00:00 +01:00 CET " in line and "T02:00:00Z" in line)
        or (" 03:00:00 +02:00 CEST " in line and "T01:00:00Z" in line)
        for line in lines
    )
    missing = invoke("next", "-c", v1, "--schedule", "nope")
    assert missing.exit_code == 2
    neither = invoke("next")
    assert neither.exit_code == 2


def test_run_with_require_applied_refuses_a_config_not_applied(write: Write) -> None:
    v1, v2 = write("v1", V1), write("v2", V2)
    invoke("apply", "-c", v1)
    refused = invoke("run", "-c", v2, "--require-applied")
    assert refused.exit_code == 2
    assert "differs from the stored schedules" in refused.output
    assert invoke("plan", "-c", v1).exit_code == 0  # nothing was synced
