"""``tickwork import-crontab``: format choice, output, problems on stderr and exit codes."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tickwork.cli import cli
from tickwork.cli.import_cmd import is_system_crontab_path

DATA = Path(__file__).parent.parent / "data" / "crontabs"
FILES: list[dict[str, Any]] = json.loads((DATA / "expected.json").read_text(encoding="utf-8"))[
    "files"
]

SYSTEM = "17 * * * * root cd / && run-parts --report /etc/cron.hourly\n"
USER = "MAILTO=ops@example.com\nCRON_TZ=Europe/Berlin\n0 3 * * * /usr/local/bin/backup --full\n"


def _run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["import-crontab", *args], input=stdin)


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="")
    return path


def test_user_crontab_imports_with_exit_0(tmp_path: Path) -> None:
    path = _write(tmp_path / "mycron", USER)
    result = _run(str(path))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"# Imported from {path} by tickwork import-crontab\n")
    assert tomllib.loads(result.stdout)["schedule"] == [
        {
            "name": "line-3-backup",
            "cron": "0 3 * * *",
            "tz": "Europe/Berlin",
            "command": "/usr/local/bin/backup --full",
        }
    ]
    assert "# MAILTO=ops@example.com: tickwork sends no mail" in result.stdout
    assert result.stderr == f"{path}: 1 schedule imported, 0 lines not imported\n"


def test_problems_give_exit_1_and_the_rest_is_still_printed(tmp_path: Path) -> None:
    path = _write(tmp_path / "mycron", "0 1 * * * good\n@reboot boot\n61 * * * * bad\n")
    result = _run(str(path))
    assert result.exit_code == 1
    assert [t["name"] for t in tomllib.loads(result.stdout)["schedule"]] == ["line-1-good"]
    assert "# line 2: @reboot is not supported" in result.stdout
    assert "# line 3: bad schedule: minute value 61 is out of range" in result.stdout
    errors = result.stderr.splitlines()
    assert errors[0].startswith(f"{path}:2: @reboot is not supported")
    assert errors[1].startswith(f"{path}:3: bad schedule: minute value 61 is out of range")
    assert errors[2] == f"{path}: 1 schedule imported, 2 lines not imported"


@pytest.mark.parametrize(
    "args",
    [["missing-file"], [], ["a", "b"], ["a", "--bogus"]],
    ids=["missing", "no-file", "two-files", "unknown-option"],
)
def test_bad_arguments_exit_2(tmp_path: Path, args: list[str]) -> None:
    paths = [a if a.startswith("-") else str(tmp_path / a) for a in args]
    result = CliRunner().invoke(cli, ["import-crontab", *paths])
    assert result.exit_code == 2
    assert result.stdout == ""


def test_unreadable_file_exits_2(tmp_path: Path) -> None:
    result = _run(str(tmp_path / "nope"))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: cannot read {tmp_path / 'nope'}:")


def test_directory_exits_2(tmp_path: Path) -> None:
    assert _run(str(tmp_path)).exit_code == 2


def test_output_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "mycron", USER)
    out = tmp_path / "tickwork.toml"
    result = _run(str(path), "--output", str(out))
    assert result.exit_code == 0
    assert result.stdout == ""
    assert tomllib.loads(out.read_text(encoding="utf-8"))["schedule"][0]["name"] == "line-3-backup"


def test_unwritable_output_exits_2(tmp_path: Path) -> None:
    path = _write(tmp_path / "mycron", USER)
    result = _run(str(path), "--output", str(tmp_path / "no" / "such" / "dir.toml"))
    assert result.exit_code == 2
    assert "cannot write" in result.stderr


@pytest.mark.parametrize(
    ("relative", "system"),
    [
        ("etc/crontab", True),
        ("etc/cron.d/certbot", True),
        ("backup/etc/cron.d/php", True),
        ("crontab", False),
        ("etc/crontabs/root", False),
        ("var/spool/cron/crontabs/root", False),
        ("etc/anacrontab", False),
        ("-", False),
    ],
)
def test_system_detection_from_the_path(tmp_path: Path, relative: str, system: bool) -> None:
    path = relative if relative == "-" else str(tmp_path / relative)
    assert is_system_crontab_path(path) is system


def test_detected_system_crontab_reads_the_user_field(tmp_path: Path) -> None:
    path = _write(tmp_path / "etc" / "crontab", SYSTEM)
    result = _run(str(path))
    assert result.exit_code == 0
    table = tomllib.loads(result.stdout)["schedule"][0]
    assert (table["user"], table["command"]) == (
        "root",
        "cd / && run-parts --report /etc/cron.hourly",
    )
    assert "read as a system crontab" in result.stderr


def test_user_flag_wins_over_detection(tmp_path: Path) -> None:
    path = _write(tmp_path / "etc" / "cron.d" / "job", SYSTEM)
    result = _run(str(path), "--user")
    table = tomllib.loads(result.stdout)["schedule"][0]
    assert "user" not in table
    assert table["command"] == "root cd / && run-parts --report /etc/cron.hourly"
    assert "read as a system crontab" not in result.stderr


def test_system_flag_wins_over_detection(tmp_path: Path) -> None:
    path = _write(tmp_path / "mycron", SYSTEM)
    result = _run(str(path), "--system")
    assert tomllib.loads(result.stdout)["schedule"][0]["user"] == "root"


def test_hint_when_a_user_crontab_looks_like_a_system_one(tmp_path: Path) -> None:
    result = _run(str(_write(tmp_path / "mycron", SYSTEM)))
    assert result.exit_code == 0
    assert "hint: commands start with 'root'; pass --system" in result.stderr


def test_stdin(tmp_path: Path) -> None:
    result = _run("-", stdin=USER)
    assert result.exit_code == 0
    assert result.stdout.startswith("# Imported from <stdin> by tickwork import-crontab")
    assert len(tomllib.loads(result.stdout)["schedule"]) == 1


def test_crlf_and_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "mycron"
    path.write_bytes(b"A=1\r\n0 3 * * * run 2>&1\r\n0 4 * * * caf\xe9\r\n")
    result = _run(str(path))
    assert result.exit_code == 1
    table = tomllib.loads(result.stdout)["schedule"]
    assert [(t["command"], t["env"]) for t in table] == [("run 2>&1", {"A": "1"})]
    assert f"{path}:3: the line is not valid UTF-8" in result.stderr


@pytest.mark.parametrize("spec", FILES, ids=[spec["file"] for spec in FILES])
def test_real_file(spec: dict[str, Any]) -> None:
    flag = "--system" if spec["format"] == "system" else "--user"
    result = _run(str(DATA / spec["file"]), flag)
    document = tomllib.loads(result.stdout)
    count = len(document.get("schedule", []))
    problems = result.stdout.count("\n# line ")
    assert result.exit_code == (1 if problems else 0)
    assert result.stderr.endswith(
        f"{count} schedule{'s' if count != 1 else ''} imported, "
        f"{problems} line{'s' if problems != 1 else ''} not imported\n"
    )
