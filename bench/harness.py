"""What the engine workloads share: databases to measure on, counting side effects, and
the correctness check every figure must pass before it counts.

A database is a fresh SQLite file in a temporary directory, or a PostgreSQL schema of its
own at ``TICKWORK_BENCH_DATABASE_URL`` (default: the test server's URL), dropped afterwards.
Nothing is cached outside the temporary directory.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "Counter",
    "Database",
    "database",
    "percentile",
    "postgres_unreachable",
    "python_command",
]

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"


# Where the PostgreSQL workloads' server comes from, first found first: the benchmarks' own
# variable, the test suite's, then the local server of docs/deployment.md.
URL_VARIABLES = ("TICKWORK_BENCH_DATABASE_URL", "TICKWORK_TEST_POSTGRES_URL")


def postgres_source() -> tuple[str, str]:
    """The PostgreSQL URL the workloads use and where it came from (a variable's name, or
    "the default")."""
    for name in URL_VARIABLES:
        if os.environ.get(name):
            return os.environ[name], name
    return DEFAULT_PG, f"the default ({DEFAULT_PG})"


def postgres_base_url() -> str:
    return postgres_source()[0]


def postgres_unreachable() -> str | None:
    """Why the PostgreSQL workloads cannot run here (no server answers: they are skipped),
    or None when they can. A URL that is not PostgreSQL's, or a server that answers and
    refuses (no such database or role, a password), is a mistake to fix rather than a
    reason to skip: ``SystemExit`` naming where the URL came from."""
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return "psycopg is not installed"
    url, source = postgres_source()
    if not url.startswith(("postgresql://", "postgres://")):
        raise SystemExit(
            f"{source} is not a PostgreSQL URL (expected postgresql://user@host:port/database)"
        )
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as err:
        text = str(err).strip()
        first = text.splitlines()[0] if text else type(err).__name__
        if isinstance(err, psycopg.ProgrammingError) or "FATAL:" in text:
            raise SystemExit(
                f"the PostgreSQL server at {source} refused the benchmarks ({first}); "
                "fix the URL or the server, or unset it to use the default"
            ) from err
        return f"no PostgreSQL reachable at {source} ({first})"
    return None


@dataclass(frozen=True, slots=True)
class Database:
    kind: str  # sqlite | postgres
    url: str  # tickwork's URL (schema in search_path for PostgreSQL)
    raw: str  # what the raw-limit code connects with (a file path, or a libpq URL)
    schema: str | None = None
    directory: Path | None = None


@contextmanager
def database(kind: str) -> Iterator[Database]:
    """A fresh empty database of ``kind`` for one measurement, removed afterwards."""
    if kind == "sqlite":
        directory = Path(tempfile.mkdtemp(prefix="tickwork-bench-"))
        try:
            path = directory / "bench.db"
            yield Database("sqlite", f"sqlite:///{path}", str(path), directory=directory)
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        return
    import psycopg

    base = postgres_base_url()
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in base else "?"
    url = f"{base}{sep}options=-csearch_path%3D{schema}"
    try:
        yield Database("postgres", url, url, schema=schema)
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@dataclass
class Counter:
    """Side effects of executed runs: one key per execution, duplicates kept."""

    keys: list[str] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)
    expected: int = 0

    def record(self, key: str) -> None:
        self.keys.append(key)  # list.append is atomic under the GIL
        if len(self.keys) >= self.expected:
            self.done.set()

    def check(self, expected: set[str]) -> dict[str, int]:
        """executed, duplicates, misses and unexpected executions against ``expected``."""
        seen = set(self.keys)
        return {
            "executed": len(self.keys),
            "duplicates": len(self.keys) - len(seen),
            "missed": len(expected - seen),
            "unexpected": len(seen - expected),
        }


def correct(check: dict[str, int], expected: int) -> bool:
    return (
        check["executed"] == expected
        and check["duplicates"] == 0
        and check["missed"] == 0
        and check["unexpected"] == 0
    )


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``, nearest rank; nan when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def python_command() -> str:
    """The interpreter as the reader would type it (``.venv/bin/python`` from the clone)."""
    executable = Path(sys.executable)
    try:
        return str(executable.relative_to(Path.cwd()))
    except ValueError:
        return str(executable)
