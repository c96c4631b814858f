"""What shadow runs, plans and diffs record keeps secrets out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tickwork.executors.base import Execution
from tickwork.executors.shadow import would_run
from tickwork.redaction import redact_env, redact_text


@pytest.mark.parametrize(
    ("name", "hidden"),
    [
        ("API_KEY", True),
        ("aws_secret_access_key", True),
        ("GITHUB_TOKEN", True),
        ("DB_PASSWORD", True),
        ("MYSQL_PWD_PASSWD", True),
        ("GOOGLE_CREDENTIALS", True),
        ("SSH_PRIVATE", True),
        ("REGION", False),
        ("PATH", False),
    ],
)
def test_secret_looking_names_are_hidden(name: str, hidden: bool) -> None:
    assert (redact_env({name: "v"})[name] == "***") is hidden


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgresql://app:pw@db/app", "postgresql://***@db/app"),
        (
            "curl https://token@api.example/x and ftp://u:p@h/",
            "curl https://***@api.example/x and ftp://***@h/",
        ),
        ("https://api.example/x?a=b", "https://api.example/x?a=b"),
        ("mail me: someone@example.org", "mail me: someone@example.org"),
    ],
)
def test_credentials_in_urls_are_hidden(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_a_shadowed_command_records_the_command_line_and_environment_without_secrets() -> None:
    execution = Execution(
        run_id=7,
        schedule="backup",
        attempt=1,
        nominal_fire=datetime(2026, 3, 2, 3, 0, tzinfo=UTC),
        idempotency_key="backup@2026-03-02T03:00:00+00:00",
        command="pg_dump postgresql://admin:hunter2@db/app > /backups/app.sql",
        stdin="secret input",
        env={"PGPASSWORD": "hunter2", "TARGET": "/backups"},
        cwd="/srv",
        timeout=timedelta(minutes=10),
    )
    detail = would_run(execution)
    assert detail["command"] == "pg_dump postgresql://***@db/app > /backups/app.sql"
    assert detail["env"]["PGPASSWORD"] == "***"
    assert detail["env"]["TARGET"] == "/backups"
    assert detail["env"]["TICKWORK_IDEMPOTENCY_KEY"] == "backup@2026-03-02T03:00:00+00:00"
    assert (detail["cwd"], detail["timeout_s"], detail["stdin_chars"]) == ("/srv", 600.0, 12)
    assert "hunter2" not in str(detail)
    assert "secret input" not in str(detail)
