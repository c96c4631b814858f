"""``tickwork token create|list|revoke``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tickwork.app import Tickwork
from tickwork.cli import cli
from tickwork.tokens import verify_token


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "tickwork.toml"
    path.write_text(f'[tickwork]\ndatabase_url = "sqlite:///{tmp_path / "tw.db"}"\n')
    return path


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def test_create_prints_the_token_once_on_its_last_line(config: Path) -> None:
    result = invoke("token", "create", "deploy", "--scope", "write", "--config", str(config))
    assert result.exit_code == 0, result.output
    plaintext = result.output.splitlines()[-1]
    tw = Tickwork(config=config)
    try:
        principal = verify_token(tw, plaintext)
        assert principal is not None
        assert principal.name == "deploy"
        assert principal.scopes == {"read", "write"}
    finally:
        tw.close()
    listed = invoke("token", "list", "--json", "--config", str(config))
    assert listed.exit_code == 0
    assert plaintext not in listed.output
    assert [(t["name"], t["scopes"]) for t in json.loads(listed.output)] == [("deploy", ["write"])]


def test_a_second_create_of_one_name_is_invalid_input(config: Path) -> None:
    assert invoke("token", "create", "bot", "--config", str(config)).exit_code == 0
    again = invoke("token", "create", "bot", "--scope", "admin", "--config", str(config))
    assert again.exit_code == 2
    assert "a token named 'bot' exists" in again.output
    listed = json.loads(invoke("token", "list", "--json", "--config", str(config)).output)
    assert [t["scopes"] for t in listed] == [["read"]]


def test_an_unknown_scope_is_refused_by_click(config: Path) -> None:
    result = invoke("token", "create", "bot", "--scope", "root", "--config", str(config))
    assert result.exit_code == 2
    assert "read" in result.output
    assert "admin" in result.output


def test_revoke_makes_the_token_useless_and_list_shows_it(config: Path) -> None:
    created = invoke("token", "create", "bot", "--scope", "admin", "--config", str(config))
    plaintext = created.output.splitlines()[-1]
    revoked = invoke("token", "revoke", "bot", "--config", str(config))
    assert revoked.exit_code == 0
    assert "revoked" in revoked.output
    tw = Tickwork(config=config)
    try:
        assert verify_token(tw, plaintext) is None
    finally:
        tw.close()
    table = invoke("token", "list", "--config", str(config))
    assert table.exit_code == 0
    assert "bot" in table.output
    assert "revoked" in table.output


def test_revoking_an_unknown_token_is_invalid_input(config: Path) -> None:
    invoke("token", "create", "bot", "--config", str(config))
    result = invoke("token", "revoke", "ghost", "--config", str(config))
    assert result.exit_code == 2
    assert "no token named 'ghost'" in result.output
