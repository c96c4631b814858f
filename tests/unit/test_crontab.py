"""``tickwork.crontab``: crontab text to entries and problems, and entries to tickwork.toml.

The real files in tests/data/crontabs/ are checked against ``expected.json`` (the parse
cronie 1.7.2 gives, cross-checked against its own parser code; see SOURCES.md there). Where
tickwork decides differently on purpose, ``DISAGREEMENTS`` names the line and the reason, and
the expected result for tickwork is a reported problem.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tickwork.crontab import (
    CrontabEntry,
    CrontabProblem,
    CrontabResult,
    parse_crontab,
    split_percent,
    to_toml,
)
from tickwork.spec import validate_schedule
from tickwork.triggers.cronexpr import parse_cron

DATA = Path(__file__).parent.parent / "data" / "crontabs"
EXPECTED: dict[str, Any] = json.loads((DATA / "expected.json").read_text(encoding="utf-8"))
FILES: list[dict[str, Any]] = EXPECTED["files"]
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")

CHKCRONTAB = "gh-claire-1-chkcrontab-tests-test_crontab"
SYSTEMD_CRON = "gh-systemd-cron-test-crontab"
ORBIT = "gh-rmfaria-orbit-core-connectors-nagios-cron.example"
CRLF = "gh-germanzero-localzero-monitoring-crontab-crlf"

# (file, line) -> (a fragment of tickwork's problem message, why tickwork differs from cron).
DISAGREEMENTS: dict[tuple[str, int], tuple[str, str]] = {
    (CHKCRONTAB, 33): (
        "reversed range '2-1'",
        "cronie accepts '2-1' as an empty minute set (the job never runs); CRON_SEMANTICS.md 1 "
        "makes every reversed range an error, so the line is reported instead of imported",
    ),
    (CHKCRONTAB, 53): (
        "range 'Wed-Sun' ends with Sunday",
        "cronie 1.7.2 reads Wed-Sun as 3-0, an empty day-of-week set (with the OR rule it runs "
        "on days 1, 4, 5 only); tickwork reads a range ending in SUN as ...-7 "
        "(CRON_SEMANTICS.md 1), which would add Wednesdays to Sundays: reported, not changed",
    ),
    (CHKCRONTAB, 55): (
        "range 'Wed-Sun' ends with Sunday",
        "as line 53",
    ),
    **{
        (SYSTEMD_CRON, line): (
            "uses '~'",
            "cronie picks random values for '~' when it loads the file; CRON_SEMANTICS.md 1 "
            "rejects the random '~' (non-deterministic), so there is no schedule to import",
        )
        for line in (26, 28, 30)
    },
    **{
        (ORBIT, line): (
            "ends in a backslash",
            "cron runs a job whose whole command is '\\' every minute (no line continuation); "
            "the importer reports it so the author joins the lines, rather than importing a "
            "job that can only fail",
        )
        for line in (4, 11)
    },
}


def _read(name: str) -> str:
    return (DATA / name).read_bytes().decode("utf-8", errors="surrogateescape")


def _parse_file(spec: dict[str, Any]) -> CrontabResult:
    return parse_crontab(_read(spec["file"]), system=spec["format"] == "system")


def _expanded(cron: str) -> dict[str, list[int]]:
    expr = parse_cron(cron)
    return {
        "minute": sorted(expr.minutes),
        "hour": sorted(expr.hours),
        "dom": sorted(expr.days),
        "month": sorted(expr.months),
        "dow": sorted(expr.weekdays),
    }


def _one(text: str, *, system: bool = False) -> CrontabEntry:
    result = parse_crontab(text, system=system)
    assert result.problems == ()
    assert len(result.entries) == 1
    return result.entries[0]


def _problem(text: str, *, system: bool = False) -> CrontabProblem:
    result = parse_crontab(text, system=system)
    assert result.entries == ()
    assert len(result.problems) == 1
    return result.problems[0]


# -- the real corpus ------------------------------------------------------------------------


def test_corpus_keeps_only_files_with_a_stated_licence() -> None:
    sources = (DATA / "SOURCES.md").read_text(encoding="utf-8")
    sections = re.split(r"^### ", sources, flags=re.M)[1:]
    licences = {
        section.split("`")[1]: re.findall(r"^- Licence: (.*)$", section, re.M)[0]
        for section in sections
    }
    kept = {spec["file"] for spec in FILES}
    assert len(kept) == 30
    assert {path.name for path in DATA.iterdir()} == kept | {
        "SOURCES.md",
        "expected.json",
        "README.md",
    }
    assert all(not licences[name].startswith("none stated") for name in kept)


@pytest.mark.parametrize("spec", FILES, ids=[spec["file"] for spec in FILES])
def test_real_file_matches_expected(spec: dict[str, Any]) -> None:
    result = _parse_file(spec)
    entries = {entry.line: entry for entry in result.entries}
    problems = {problem.line: problem for problem in result.problems}
    want_entries: set[int] = set()
    want_problems = {error["line"] for error in spec["errors"]}
    want_reboot: set[int] = set()
    for expected in spec["entries"]:
        line = expected["line"]
        disagreement = DISAGREEMENTS.get((spec["file"], line))
        if disagreement is not None:
            want_problems.add(line)
            assert disagreement[0] in problems[line].message
            continue
        if expected.get("reboot"):
            want_reboot.add(line)
            want_problems.add(line)
            assert "@reboot is not supported" in problems[line].message
            continue
        want_entries.add(line)
        entry = entries[line]
        run = expected.get("exec", {}).get("cronie", {"sh_c": expected["command"], "stdin": None})
        command = run["sh_c"]
        if spec["file"] == CRLF:
            # Disagreement: cron keeps the CR of a CRLF line in the command (the shell then
            # sees '2>&1\r'); the importer treats CRLF as a line ending, as its author meant.
            assert command.endswith("\r")
            command = command[:-1]
        env = {k: v for k, v in expected["env"].items() if k not in ("MAILTO", "CRON_TZ")}
        assert (entry.cron, entry.user, entry.command, entry.stdin) == (
            expected["schedule"],
            expected["user"],
            command,
            run["stdin"],
        )
        assert dict(entry.env) == env
        assert entry.mailto == expected["env"].get("MAILTO")
        assert entry.tz == expected.get("cron_tz")
        # tickwork's own parser expands the fields to the sets cron uses (dow 7 folded to 0).
        assert _expanded(entry.cron) == expected["expanded"]
    assert set(entries) == want_entries
    assert set(problems) == want_problems
    assert set(result.reboot_lines) == want_reboot
    assert len(result.problems) == len(problems)  # one problem per line


def test_every_disagreement_names_a_line_of_the_corpus() -> None:
    lines = {(spec["file"], entry["line"]) for spec in FILES for entry in spec["entries"]}
    assert set(DISAGREEMENTS) <= lines


@pytest.mark.parametrize("spec", FILES, ids=[spec["file"] for spec in FILES])
def test_real_file_toml_is_valid_for_the_config_loader(spec: dict[str, Any]) -> None:
    result = _parse_file(spec)
    document = tomllib.loads(to_toml(result, spec["file"]))
    tables = document.get("schedule", [])
    assert len(tables) == len(result.entries)
    names = [table["name"] for table in tables]
    assert len(set(names)) == len(names)
    assert all(NAME_RE.match(name) for name in names)
    for table, entry in zip(tables, result.entries, strict=True):
        assert table["command"] == entry.command
        assert table.get("stdin") == entry.stdin
        assert table.get("env", {}) == dict(entry.env)
        validate_schedule(table)  # the loader's validator accepts every table


# -- environment lines ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "name", "value"),
    [
        ("PATH=/usr/bin:/bin", "PATH", "/usr/bin:/bin"),
        ("PATH = /usr/bin:/bin", "PATH", "/usr/bin:/bin"),
        ("  PATH\t=\t/usr/bin  ", "PATH", "/usr/bin"),
        ('GREETING="hello  world"', "GREETING", "hello  world"),
        ("GREETING='hello  world' ", "GREETING", "hello  world"),
        ('SPACE=" "', "SPACE", " "),
        ('EMPTY=""', "EMPTY", ""),
        ("EMPTY=", "EMPTY", ""),
        ('"QUOTED"=yes', "QUOTED", "yes"),
        ("HOME=$HOME/x", "HOME", "$HOME/x"),
        ("A=b=c", "A", "b=c"),
        ("URL=http://x/?a=1 \\", "URL", "http://x/?a=1 \\"),
        ('PATH=$PATH:"/opt/bin"', "PATH", '$PATH:"/opt/bin"'),
    ],
    ids=[
        "plain",
        "spaces-around-eq",
        "tabs-and-trim",
        "double-quotes-keep-blanks",
        "single-quotes",
        "quoted-space",
        "quoted-empty",
        "bare-empty",
        "quoted-name",
        "not-expanded",
        "eq-in-value",
        "trailing-backslash-kept",
        "inner-quotes",
    ],
)
def test_env_line(line: str, name: str, value: str) -> None:
    entry = _one(f"{line}\n* * * * * job\n")
    assert dict(entry.env) == {name: value}


@pytest.mark.parametrize(
    "line",
    ['A="x" y', 'A="unclosed', "NAME", '"A=B"=c'],
    ids=["junk-after-quote", "unclosed-quote", "no-equals", "eq-in-quoted-name"],
)
def test_not_an_env_line_is_a_problem(line: str) -> None:
    problem = _problem(f"{line}\n")
    assert problem.line == 1
    assert problem.text == line


def test_env_applies_to_the_lines_after_it_and_last_assignment_wins() -> None:
    result = parse_crontab(
        "* * * * * first\nA=1\n* * * * * second\nA=2\nB=x\n* * * * * third\n", system=False
    )
    assert [dict(entry.env) for entry in result.entries] == [{}, {"A": "1"}, {"A": "2", "B": "x"}]


def test_mailto_is_a_comment_not_env() -> None:
    result = parse_crontab(
        'MAILTO=ops@example.com\n0 3 * * * a\nMAILTO=""\n0 4 * * * b\n', system=False
    )
    first, second = result.entries
    assert (first.mailto, second.mailto) == ("ops@example.com", "")
    assert dict(first.env) == {}
    text = to_toml(result, "crontab")
    assert "# MAILTO=ops@example.com: tickwork sends no mail" in text
    assert "webhook" in text
    assert "MAILTO" not in str(tomllib.loads(text))


def test_shell_is_in_shell_and_env() -> None:
    entry = _one("SHELL=/bin/bash\n0 3 * * * source ~/.profile && run\n")
    assert entry.shell == "/bin/bash"
    table = tomllib.loads(to_toml(CrontabResult((entry,), (), ()), "c"))["schedule"][0]
    assert table["shell"] == "/bin/bash"
    assert table["env"] == {"SHELL": "/bin/bash"}


def test_cron_tz_applies_to_following_lines_only() -> None:
    result = parse_crontab(
        "0 1 * * * before\nCRON_TZ=Europe/Berlin\n0 2 * * * after\n"
        "CRON_TZ = 'America/New_York'\n0 3 * * * later\nCRON_TZ=\n0 4 * * * reset\n",
        system=False,
    )
    assert [(entry.command, entry.tz) for entry in result.entries] == [
        ("before", None),
        ("after", "Europe/Berlin"),
        ("later", "America/New_York"),
        ("reset", None),
    ]
    assert all("CRON_TZ" not in entry.env for entry in result.entries)


def test_invalid_cron_tz_blocks_the_entries_it_would_apply_to() -> None:
    result = parse_crontab(
        "CRON_TZ=Mars/Olympus\n0 3 * * * a\n0 4 * * * b\nCRON_TZ=UTC\n0 5 * * * c\n",
        system=False,
    )
    assert [entry.command for entry in result.entries] == ["c"]
    assert [problem.line for problem in result.problems] == [1, 2, 3]
    assert "unknown time zone 'Mars/Olympus'" in result.problems[0].message
    assert "CRON_TZ set on line 1" in result.problems[1].message


def test_tz_sets_the_zone_with_a_note_and_stays_in_env() -> None:
    entry = _one("TZ=Asia/Tokyo\n0 9 * * * report\n")
    assert entry.tz == "Asia/Tokyo"
    assert dict(entry.env) == {"TZ": "Asia/Tokyo"}
    assert any("only passes TZ to the job" in note for note in entry.notes)


def test_cron_tz_wins_over_tz() -> None:
    entry = _one("TZ=Asia/Tokyo\nCRON_TZ=UTC\n0 9 * * * report\n")
    assert entry.tz == "UTC"
    assert entry.notes == ()


def test_random_delay_gets_a_note() -> None:
    entry = _one("RANDOM_DELAY=10\n0 9 * * * report\n")
    assert dict(entry.env) == {"RANDOM_DELAY": "10"}
    assert any("jitter" in note for note in entry.notes)


# -- % in commands -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "command", "stdin"),
    [
        ("echo hello", "echo hello", None),
        ("date +\\%Y-\\%m-\\%d", "date +%Y-%m-%d", None),
        ("mail -s hi ops%Dear ops,%%bye", "mail -s hi ops", "Dear ops,\n\nbye\n"),
        ("cat%", "cat", ""),
        ("cat %a\\%b%", "cat ", "a%b\n"),
        ("cat %line%", "cat ", "line\n"),
        ("echo \\$HOME \\\\ x", "echo \\$HOME \\\\ x", None),
        ("echo a\\\\%b", "echo a\\\\", "b\n"),
        ("echo trailing\\", "echo trailing\\", None),
        ("date +%Y-%m-%d", "date +", "Y-\nm-\nd\n"),
    ],
    ids=[
        "none",
        "escaped-percent",
        "stdin-lines",
        "empty-stdin",
        "escaped-in-stdin",
        "final-newline-not-doubled",
        "other-backslashes-kept",
        "escaped-backslash-then-percent",
        "trailing-backslash",
        "classic-date-bug",
    ],
)
def test_split_percent(written: str, command: str, stdin: str | None) -> None:
    assert split_percent(written) == (command, stdin)


def test_percent_in_a_line_gives_command_stdin_and_the_written_form() -> None:
    entry = _one("0 3 * * * mail -s report ops%see the log%\n")
    assert (entry.command, entry.stdin) == ("mail -s report ops", "see the log\n")
    assert entry.written == "mail -s report ops%see the log%"
    text = to_toml(CrontabResult((entry,), (), ()), "c")
    assert "# as written in the crontab: mail -s report ops%see the log%" in text
    assert tomllib.loads(text)["schedule"][0]["stdin"] == "see the log\n"


def test_escaped_percent_only_is_not_stdin() -> None:
    entry = _one("0 3 * * * date +\\%F\n")
    assert (entry.command, entry.stdin, entry.written) == ("date +%F", None, "date +\\%F")


def test_command_empty_before_percent_is_a_problem() -> None:
    assert "command is empty" in _problem("* * * * * %input\n").message


# -- line endings, comments, blanks --------------------------------------------------------


def test_crlf_line_endings() -> None:
    text = "# comment\r\nA=1\r\n\r\n0 3 * * * run --x 2>&1\r\nB = 'q' \r\n@daily d\r\n"
    result = parse_crontab(text, system=False)
    assert result.problems == ()
    assert [(e.line, e.command, dict(e.env)) for e in result.entries] == [
        (4, "run --x 2>&1", {"A": "1"}),
        (6, "d", {"A": "1", "B": "q"}),
    ]


def test_hash_after_a_command_is_part_of_it_and_indented_comments_are_ignored() -> None:
    entry = _one("  # indented comment\n\t\n0 3 * * * echo a # b\n")
    assert entry.command == "echo a # b"


def test_blanks_between_fields_and_before_the_command() -> None:
    entry = _one(" 00 5\t *   *   *      spaced  cmd  \n")
    assert (entry.cron, entry.command) == ("00 5 * * *", "spaced  cmd  ")


def test_last_line_without_newline_is_a_problem() -> None:
    result = parse_crontab("0 1 * * * fine\n0 2 * * * unterminated", system=False)
    assert [entry.line for entry in result.entries] == [1]
    assert result.problems[0].line == 2
    assert "no newline at the end of the file" in result.problems[0].message


def test_trailing_comment_without_newline_is_fine() -> None:
    assert parse_crontab("0 1 * * * a\n# EOF", system=False).problems == ()


def test_empty_text() -> None:
    assert parse_crontab("", system=True) == CrontabResult((), (), ())


def test_invalid_utf8_line_is_a_problem() -> None:
    text = b"0 1 * * * caf\xe9\n0 2 * * * ok\n".decode("utf-8", errors="surrogateescape")
    result = parse_crontab(text, system=False)
    assert [entry.line for entry in result.entries] == [2]
    assert "not valid UTF-8" in result.problems[0].message
    tomllib.loads(to_toml(result, "c"))


# -- schedules -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "macro", ["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"]
)
def test_macros_are_kept(macro: str) -> None:
    assert _one(f"{macro} job\n").cron == macro


def test_reboot_is_reported_with_its_line() -> None:
    result = parse_crontab("@daily d\n@reboot r\n", system=False)
    assert [entry.line for entry in result.entries] == [1]
    assert result.reboot_lines == (2,)
    assert result.problems[0].line == 2
    assert "@reboot is not supported" in result.problems[0].message


def test_reboot_in_a_system_crontab() -> None:
    result = parse_crontab("@reboot root /usr/bin/start\n", system=True)
    assert result.reboot_lines == (1,)
    assert result.entries == ()


BAD_LINES = [
    ("@DAILY job", "unknown macro '@DAILY'"),
    ("@m0nthly job", "unknown macro '@m0nthly'"),
    ("61 * * * * job", "minute value 61 is out of range"),
    ("0 0 30 2 * job", "never fires"),
    ("5-1 * * * * job", "reversed range"),
    ("*/0 * * * * job", "step 0"),
    ("0 0 L * * job", "not crontab syntax"),
    ("0 0 15W * * job", "not crontab syntax"),
    ("0 0 * * MON#2 job", "not crontab syntax"),
    ("0 0 ? * * job", "not crontab syntax"),
    ("5/15 * * * * job", "a step without a range"),
    ("~ 3 * * * job", "uses '~'"),
    ("0 0 * * FRI-SUN job", "tickwork reads it as 5-7"),
    ("0 0 * * 6-0 job", "tickwork reads it as 6-7"),
    ("0 */5 * * * * job", "a '*' where the command should start"),
    ("0 3 * * *", "no command after the time fields"),
    ("0 3 * * * \\", "ends in a backslash"),
    ("just some words", "not a job line or a NAME=value setting"),
    ("TZ=Europe/Berlin 0 3 * * * job", "unknown time zone 'Europe/Berlin 0 3 * * * job'"),
]


@pytest.mark.parametrize(("line", "fragment"), BAD_LINES, ids=[case[0] for case in BAD_LINES])
def test_bad_line_is_a_problem(line: str, fragment: str) -> None:
    problem = _problem(f"{line}\n")
    assert fragment in problem.message
    assert problem.text == line


def test_sunday_as_seven_and_names_are_fine() -> None:
    assert _one("0 0 * * FRI-7 job\n").cron == "0 0 * * FRI-7"
    assert _one("0 0 * jan-MAR mOn-Fri/2 job\n").cron == "0 0 * jan-MAR mOn-Fri/2"


def test_problems_keep_line_numbers_and_the_rest_imports() -> None:
    text = "# header\n0 1 * * * good\nbad line\n\n99 * * * * worse\n@reboot boot\n0 2 * * * ok\n"
    result = parse_crontab(text, system=False)
    assert [entry.line for entry in result.entries] == [2, 7]
    assert [(problem.line, problem.text) for problem in result.problems] == [
        (3, "bad line"),
        (5, "99 * * * * worse"),
        (6, "@reboot boot"),
    ]


def test_tickwork_errors_are_quoted_in_full() -> None:
    problem = _problem("0 25 * * * job\n")
    assert problem.message == (
        "bad schedule: hour value 25 is out of range in '0 25 * * *'; expected 0-23"
    )


# -- system crontabs -----------------------------------------------------------------------


def test_user_field() -> None:
    entry = _one("17 *\t* * *\troot    cd / && run-parts --report /etc/cron.hourly\n", system=True)
    assert (entry.cron, entry.user, entry.command) == (
        "17 * * * *",
        "root",
        "cd / && run-parts --report /etc/cron.hourly",
    )


def test_user_field_after_a_macro() -> None:
    entry = _one("@daily www-data /usr/bin/clean\n", system=True)
    assert (entry.cron, entry.user, entry.command) == ("@daily", "www-data", "/usr/bin/clean")


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("0 3 * * * root", "no command after the user field"),
        ("0 3 * * *", "no user field and command"),
        ("0 3 * * * * root cmd", "a '*' where the user should start"),
        ("0 3 * * root cmd", "bad value 'root' in day-of-week field"),
    ],
    ids=["no-command", "no-user", "sixth-field", "missing-field"],
)
def test_system_line_problems(line: str, fragment: str) -> None:
    assert fragment in _problem(f"{line}\n", system=True).message


def test_user_crontab_keeps_a_user_looking_word_in_the_command() -> None:
    assert _one("0 3 * * * root /bin/true\n").command == "root /bin/true"


# -- TOML ----------------------------------------------------------------------------------


def test_toml_layout() -> None:
    result = parse_crontab(
        "SHELL=/bin/bash\nPATH=/usr/bin:/bin\nMAILTO=root\nCRON_TZ=Europe/Berlin\n"
        "0 3 * * * root /usr/local/bin/backup --full\nfoo\n",
        system=True,
    )
    text = to_toml(result, "/etc/crontab")
    assert text.splitlines()[0] == "# Imported from /etc/crontab by tickwork import-crontab"
    assert tomllib.loads(text) == {
        "schedule": [
            {
                "name": "line-5-backup",
                "cron": "0 3 * * *",
                "tz": "Europe/Berlin",
                "command": "/usr/local/bin/backup --full",
                "env": {"SHELL": "/bin/bash", "PATH": "/usr/bin:/bin"},
                "shell": "/bin/bash",
                "user": "root",
            }
        ]
    }
    tail = text[text.index("# Not imported: 1 line.\n") :].splitlines()
    assert tail[1].startswith("# line 6: not a job line or a NAME=value setting: expected")
    assert all(line.startswith("#   ") and len(line) <= 96 for line in tail[2:])
    assert tail[-1] == "#     foo"


def test_names_are_unique_and_valid() -> None:
    lines = [
        "* * * * * /usr/bin/backup",
        "* * * * * /usr/bin/backup",
        "* * * * * [ -x /usr/sbin/anacron ] && anacron",
        "* * * * * cd / && run-parts --report /etc/cron.daily",
        "* * * * * $HOME/bin/x",
        "* * * * * echo Vasárnap",
        "* * * * * ((",
        "* * * * * " + "a" * 300,
    ]
    result = parse_crontab("".join(line + "\n" for line in lines), system=False)
    names = [t["name"] for t in tomllib.loads(to_toml(result, "c"))["schedule"]]
    assert names[:6] == [
        "line-1-backup",
        "line-2-backup",
        "line-3-anacron",
        "line-4-cron.daily",
        "line-5-x",
        "line-6-echo",
    ]
    assert names[6] == "line-7"
    assert len(set(names)) == len(names)
    assert all(NAME_RE.match(name) for name in names)


def test_duplicate_lines_in_a_hand_built_result_still_get_unique_names() -> None:
    entry = CrontabEntry(line=1, cron="@daily", command="job")
    text = to_toml(CrontabResult((entry, entry), (), ()), "c")
    assert [t["name"] for t in tomllib.loads(text)["schedule"]] == ["line-1-job", "line-1-job-2"]


def test_strings_are_escaped() -> None:
    command = "printf \"%s\\n\" 'a'\t\x07 ünï 🙂 \\\\"
    entry = CrontabEntry(
        line=3,
        cron="* * * * *",
        command=command,
        stdin="a\nb\r\n\x7f",
        env={"odd.name": 'q"uote', "with space": "", "PATH": "/bin"},
        user="us\ner",
    )
    table = tomllib.loads(to_toml(CrontabResult((entry,), (), ()), "we\nird\x00.tab"))
    assert table["schedule"][0]["command"] == command
    assert table["schedule"][0]["stdin"] == "a\nb\r\n\x7f"
    assert table["schedule"][0]["env"] == {"odd.name": 'q"uote', "with space": "", "PATH": "/bin"}
    assert table["schedule"][0]["user"] == "us\ner"


def test_problem_text_with_control_characters_stays_a_comment() -> None:
    result = CrontabResult((), (CrontabProblem(1, "bad\x0cline\x1b", "why\nnot"),), ())
    text = to_toml(result, "c")
    assert tomllib.loads(text) == {}
    assert "# line 1: why\\nnot" in text


_TEXT = st.text(st.characters(blacklist_categories=("Cs",)))


@given(
    command=_TEXT.filter(str.strip),
    stdin=st.none() | _TEXT,
    env=st.dictionaries(_TEXT.filter(bool), _TEXT, max_size=4),
    user=st.none() | _TEXT,
    mailto=st.none() | _TEXT,
)
def test_any_entry_round_trips_through_toml(
    command: str, stdin: str | None, env: dict[str, str], user: str | None, mailto: str | None
) -> None:
    entry = CrontabEntry(
        line=7,
        cron="0 3 * * *",
        command=command,
        stdin=stdin,
        env=env,
        user=user,
        mailto=mailto,
        notes=(command,),
        written=command,
    )
    table = tomllib.loads(to_toml(CrontabResult((entry,), (), ()), command))["schedule"][0]
    assert table["command"] == command
    assert table.get("stdin") == stdin
    assert table.get("env", {}) == env
    assert table.get("user") == user
    assert NAME_RE.match(table["name"])
