"""Every shared conformance vector, run through the code path of ``tickwork next``.

The vectors (tests/data/cron_vectors.json, see tests/data/README.md) are the truth the cron
evaluator is checked against (CRON_SEMANTICS.md). Each one is invoked exactly as the
conformance checker invokes the command (options first, ``--`` before the expression) and
compared by instant and by UTC offset.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tickwork.cli import cli

VECTORS_PATH = Path(__file__).parent.parent / "data" / "cron_vectors.json"
VECTORS: list[dict[str, Any]] = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))
VALID = [v for v in VECTORS if not v.get("expect_error")]
INVALID = [v for v in VECTORS if v.get("expect_error")]


def _run_next(vector: dict[str, Any], count: int) -> Any:
    args = ["next", "--tz", vector["tz"], "--after", vector["after"]]
    args += ["--count", str(count), "--json", "--", vector["expr"]]
    return CliRunner().invoke(cli, args)


def _instant_and_offset(text: str) -> tuple[datetime, object]:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert value.tzinfo is not None, f"{text!r} has no UTC offset"
    return value, value.utcoffset()


def test_the_vector_file_holds_the_whole_shared_suite() -> None:
    assert len(VECTORS) == 245
    assert len(VALID) == 197
    assert len(INVALID) == 48
    assert len({v["id"] for v in VECTORS}) == len(VECTORS)


@pytest.mark.parametrize("vector", VALID, ids=[v["id"] for v in VALID])
def test_valid_vector_gives_the_expected_instants_and_offsets(vector: dict[str, Any]) -> None:
    result = _run_next(vector, len(vector["expected"]))

    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)
    assert isinstance(got, list)
    assert [_instant_and_offset(g) for g in got] == [
        _instant_and_offset(e) for e in vector["expected"]
    ], vector.get("notes", "")
    for text in got:
        assert datetime.fromisoformat(text).microsecond == 0, "whole seconds only"


@pytest.mark.parametrize("vector", INVALID, ids=[v["id"] for v in INVALID])
def test_invalid_vector_exits_2_with_a_message_and_no_result(vector: dict[str, Any]) -> None:
    result = _run_next(vector, vector.get("count", 1))

    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert len(result.stderr.strip()) > len("error: ")
