"""``tickwork next``: human and JSON output, ``--``, option order, every:/at: forms and exit
codes (0 ok, 2 invalid input), through click's runner on the real command group."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner, Result

from tickwork.cli import cli


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["next", *args])


def test_human_output_is_a_description_line_then_one_line_per_fire() -> None:
    result = run(
        "--tz", "Europe/Berlin", "--after", "2024-03-30T00:00:00+01:00", "-n", "3", "30 2 * * *"
    )

    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "30 2 * * *  (Europe/Berlin): At 02:30, every day",
        "  Sat 2024-03-30 02:30:00 +01:00 CET     2024-03-30T01:30:00Z",
        "  Sun 2024-03-31 03:00:00 +02:00 CEST    2024-03-31T01:00:00Z",
        "  Mon 2024-04-01 02:30:00 +02:00 CEST    2024-04-01T00:30:00Z",
    ]
    assert result.stderr == ""


def test_json_output_is_an_array_of_iso_instants_with_the_zone_offsets() -> None:
    result = run(
        "--tz",
        "America/New_York",
        "--after",
        "2024-11-03T00:00:00-04:00",
        "--count",
        "4",
        "--json",
        "--",
        "*/30 1 * * *",
    )

    assert result.exit_code == 0
    assert json.loads(result.stdout) == [
        "2024-11-03T01:00:00-04:00",
        "2024-11-03T01:30:00-04:00",
        "2024-11-03T01:00:00-05:00",
        "2024-11-03T01:30:00-05:00",
    ]


def test_default_count_is_five_and_default_zone_is_utc() -> None:
    result = run("--after", "2024-01-01T00:00:00Z", "--json", "@daily")

    assert result.exit_code == 0
    assert json.loads(result.stdout) == [f"2024-01-0{d}T00:00:00+00:00" for d in range(2, 7)]


def test_options_may_follow_the_expression() -> None:
    result = run(
        "0 3 * * *",
        "--tz",
        "Europe/Berlin",
        "--after",
        "2026-03-28T00:00:00+01:00",
        "-n",
        "2",
        "--json",
    )

    assert result.exit_code == 0
    assert json.loads(result.stdout) == [
        "2026-03-28T03:00:00+01:00",
        "2026-03-29T03:00:00+02:00",
    ]


def test_double_dash_passes_an_expression_that_starts_with_a_dash() -> None:
    without = run("--after", "2024-01-01T00:00:00Z", "-5 * * * *")
    with_dashes = run("--after", "2024-01-01T00:00:00Z", "--", "-5 * * * *")

    assert without.exit_code == 2
    assert "No such option" in without.stderr
    # With '--' the expression reaches the cron parser, which names the field.
    assert with_dashes.exit_code == 2
    assert "minute field" in with_dashes.stderr
    assert with_dashes.stdout == ""


def test_every_form_is_anchored_at_after() -> None:
    result = run(
        "--tz",
        "Europe/Berlin",
        "--after",
        "2024-10-27T01:30:00+02:00",
        "-n",
        "4",
        "--json",
        "every:15m",
    )

    assert result.exit_code == 0
    assert json.loads(result.stdout) == [
        "2024-10-27T01:45:00+02:00",
        "2024-10-27T02:00:00+02:00",
        "2024-10-27T02:15:00+02:00",
        "2024-10-27T02:30:00+02:00",
    ]


def test_every_form_human_output_describes_the_interval() -> None:
    result = run("--after", "2024-01-01T00:00:00Z", "-n", "2", "every:90m")

    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "every:90m  (UTC): Every 1h30m from 2024-01-01T00:00:00+00:00",
        "  Mon 2024-01-01 01:30:00 +00:00 UTC     2024-01-01T01:30:00Z",
        "  Mon 2024-01-01 03:00:00 +00:00 UTC     2024-01-01T03:00:00Z",
    ]


def test_at_form_fires_once_shown_in_the_zone() -> None:
    result = run(
        "--tz",
        "Europe/Berlin",
        "--after",
        "2026-01-01T00:00:00Z",
        "-n",
        "3",
        "--json",
        "at:2026-12-24T17:00:00Z",
    )

    assert result.exit_code == 0
    assert json.loads(result.stdout) == ["2026-12-24T18:00:00+01:00"]
    assert result.stderr == (
        "note: only 1 fire after 2026-01-01T00:00:00+00:00 (asked for 3): "
        "the trigger ends there, or year 9999 is reached\n"
    )


def test_without_after_the_fires_follow_the_current_time() -> None:
    before = datetime.now(UTC)

    result = run("--json", "-n", "1", "* * * * *")

    fire = datetime.fromisoformat(json.loads(result.stdout)[0])
    assert before < fire <= before + timedelta(minutes=2)


@pytest.mark.parametrize(
    ("args", "in_stderr"),
    [
        pytest.param(["61 * * * *"], "minute", id="bad-minute"),
        pytest.param(["* * * * 8"], "day-of-week", id="bad-day-of-week"),
        pytest.param(["*/0 * * * *"], "step 0", id="zero-step"),
        pytest.param(["0 0 30 2 *"], "never fires", id="never-fires"),
        pytest.param(["@reboot"], "@reboot", id="reboot"),
        pytest.param(["--tz", "Mars/Base", "* * * * *"], "unknown time zone", id="bad-tz"),
        pytest.param(["--tz", "TZ=UTC", "* * * * *"], "TZ= prefix", id="tz-prefix"),
        pytest.param(["--after", "tomorrow", "* * * * *"], "bad after", id="bad-after"),
        pytest.param(["--after", "2024-01-01T00:00", "* * * * *"], "no UTC offset", id="naive"),
        pytest.param(["every:0s"], "zero every", id="zero-every"),
        pytest.param(["every:soon"], "bad every", id="bad-every"),
        pytest.param(["at:2026-12-24T18:00"], "no UTC offset", id="naive-at"),
        pytest.param(["at:2020-01-01T00:00:00Z"], "no fire time after", id="at-in-the-past"),
        pytest.param(["--count", "0", "* * * * *"], "--count", id="count-zero"),
        pytest.param([], "Missing argument", id="no-expression"),
    ],
)
def test_invalid_input_exits_2_with_a_message_and_nothing_on_stdout(
    args: list[str], in_stderr: str
) -> None:
    fixed_after = [] if "--after" in args else ["--after", "2024-01-01T00:00:00Z"]

    result = run(*fixed_after, *args)

    assert result.exit_code == 2
    assert in_stderr in result.stderr
    assert result.stdout == ""


def test_help_explains_the_forms_and_the_double_dash() -> None:
    result = run("--help")

    assert result.exit_code == 0
    assert "every:15m" in result.stdout
    assert '"--"' in result.stdout
