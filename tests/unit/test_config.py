"""Config and schedule validation: every problem reported with schedule, key, value and
what was expected; nothing is accepted half-valid."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tickwork.config import environment_settings, load_config
from tickwork.errors import ConfigError
from tickwork.spec import ScheduleSpec, validate_schedule

GOOD = """
[tickwork]
database_url = "sqlite:///tw.db"
timezone = "Europe/Berlin"
concurrency = 8

[[schedule]]
name = "nightly-report"
cron = "0 3 * * *"
command = "make report"
retries = 3
timeout = "10m"

[[schedule]]
name = "poll"
every = "15m"
task = "myapp.jobs:poll"
tz = "UTC"
"""


def write(tmp_path: Path, text: str, name: str = "tickwork.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_good_config_loads_with_defaults_filled_in(tmp_path: Path) -> None:
    settings = load_config(write(tmp_path, GOOD), environ={})
    assert settings.database_url == "sqlite:///tw.db"
    assert settings.concurrency == 8
    report, poll = settings.schedules
    assert report["tz"] == "Europe/Berlin"  # the config's default zone
    assert (report["retries"], report["overlap"], report["catchup"]) == (3, "skip", "latest")
    assert poll["tz"] == "UTC"
    spec = ScheduleSpec.from_stored(report)
    assert spec.retry.max_attempts == 4
    assert spec.timeout is not None


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    settings = load_config(
        write(tmp_path, GOOD), environ={"TICKWORK_DATABASE_URL": "sqlite:///other.db"}
    )
    assert settings.database_url == "sqlite:///other.db"


def test_pyproject_tool_table_is_read(tmp_path: Path) -> None:
    text = """
[tool.tickwork]
timezone = "UTC"

[[tool.tickwork.schedule]]
name = "a"
cron = "@daily"
command = "true"
"""
    settings = load_config(write(tmp_path, text, "pyproject.toml"), environ={})
    assert [s["name"] for s in settings.schedules] == ["a"]


BAD = """
[tickwork]
concurrency = 0
colour = "blue"

[[schedule]]
name = "bad-cron"
cron = "61 * * * *"
command = "true"

[[schedule]]
name = "bad zone"
cron = "0 3 * * *"
tz = "Mars/Olympus"
task = "x:y"
overlap = "sometimes"

[[schedule]]
name = "both"
every = "15m"
at = "2026-12-24T18:00:00+01:00"
command = "true"
task = "a:b"

[[schedule]]
name = "bad-cron"
every = "fortnightly"
command = "true"
retries = -1
"""


def test_every_problem_is_listed_with_schedule_key_value_and_expected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, BAD), environ={})
    text = str(caught.value)
    problems = {(p.field, str(p.value)) for p in caught.value.problems}
    assert ("concurrency", "0") in problems
    assert ("colour", "blue") in problems
    assert "schedule 'bad-cron', key 'cron': minute value 61 is out of range" in text
    assert "expected 0-59" in text
    assert ("name", "bad zone") in problems
    assert ("tz", "Mars/Olympus") in problems
    assert ("overlap", "sometimes") in problems
    assert ("trigger", "every, at") in problems or any(
        "conflicting" in str(p) for p in caught.value.problems
    )
    assert ("every", "fortnightly") in problems
    assert ("retries", "-1") in problems
    assert all(not p.retryable for p in caught.value.problems)


def test_unknown_schedule_key_is_an_error_not_ignored() -> None:
    with pytest.raises(ConfigError, match="unknown key 'cronn'"):
        validate_schedule({"name": "a", "cronn": "* * * * *", "command": "true"})


def test_never_firing_expression_is_rejected_at_definition() -> None:
    with pytest.raises(ConfigError, match="never fires"):
        validate_schedule({"name": "feb30", "cron": "0 0 30 2 *", "command": "true"})


def test_missing_file_and_bad_toml_are_specific(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "absent.toml", environ={})
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[[schedule]\nname="), environ={})


def test_duplicate_names_are_reported_alongside_other_problems(tmp_path: Path) -> None:
    text = (
        '[[schedule]]\nname = "b"\ncron = "61 * * * *"\ncommand = "x"\n'
        '[[schedule]]\nname = "b"\ncron = "* * * * *"\ncommand = "x"\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), environ={})
    messages = [str(p) for p in caught.value.problems]
    assert any("name defined twice" in m for m in messages)
    assert any("minute value 61" in m for m in messages)


def test_a_bad_environment_variable_is_named_as_the_source(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\$TICKWORK_CONCURRENCY: bad value 'abc'"):
        load_config(write(tmp_path, GOOD), environ={"TICKWORK_CONCURRENCY": "abc"})


def test_service_settings_parse_from_the_environment_with_their_types() -> None:
    settings = environment_settings(
        {
            "TICKWORK_API_PORT": "9000",
            "TICKWORK_API_COMMANDS": "yes",
            "TICKWORK_RETENTION": "0",
            "TICKWORK_WEBHOOK_SECRET": "s3cret",
            "TICKWORK_PAUSE_AFTER_FAILURES": "3",
            "TICKWORK_API_THREADS": "2",
        }
    )
    assert settings.api_port == 9000
    assert settings.api_threads == 2
    assert settings.api_commands is True
    assert settings.retention == timedelta(0)
    assert settings.pause_after_failures == 3
    assert settings.webhook_secret == "s3cret"
    assert "s3cret" not in repr(settings)


def test_bad_service_settings_are_all_reported_with_what_was_expected() -> None:
    with pytest.raises(ConfigError) as caught:
        environment_settings(
            {
                "TICKWORK_API_PORT": "99999",
                "TICKWORK_API_AUTH": "basic",
                "TICKWORK_WEBHOOK_URL": "ftp://example.invalid",
                "TICKWORK_METRICS_AUTH": "maybe",
                "TICKWORK_API_THREADS": "0",
            }
        )
    text = str(caught.value)
    assert len(caught.value.problems) == 5
    assert "$TICKWORK_API_THREADS: bad value '0'" in text
    assert "from 1 to 65535" in text
    assert "'token'" in text
    assert "http:// or https://" in text
    assert "true or false" in text


def test_a_bad_cron_is_reported_with_a_bad_zone_at_once(tmp_path: Path) -> None:
    path = tmp_path / "tickwork.toml"
    path.write_text(
        '[[schedule]]\nname = "x"\ncron = "0 25 * * *"\ntz = "No/Where"\ntask = "m:f"\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert {(p.field, p.expected) for p in caught.value.problems} == {
        ("cron", "0-23"),
        ("tz", "an IANA time zone name"),
    }


@pytest.mark.parametrize("name", ["café-日本", "nightly\n", "-leading", "x" * 201])
def test_a_name_outside_ascii_letters_digits_and_dot_dash_underscore_is_refused(
    name: str,
) -> None:
    with pytest.raises(ConfigError) as caught:
        validate_schedule({"name": name, "every": "1h", "task": "m:f"})
    [problem] = caught.value.problems
    assert problem.field == "name"
    assert problem.expected.startswith("a unique name of ASCII letters, digits")


@pytest.mark.parametrize("key", ["overlap", "catchup"])
@pytest.mark.parametrize("value", [["skip"], {"a": 1}, 3])
def test_a_policy_that_is_not_text_is_a_problem_not_a_crash(key: str, value: object) -> None:
    with pytest.raises(ConfigError) as caught:
        validate_schedule({"name": "x", "every": "1h", "task": "m:f", key: value})
    assert [p.field for p in caught.value.problems] == [key]
