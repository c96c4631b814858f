"""Real `tickwork run` processes on a real database (a SQLite file, or a PostgreSQL database
of the test's own) and real time. Each test bounds its window with end_at and waits on
database state (polling with a deadline), never on a fixed sleep for a schedule."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from tickwork.app import Tickwork
from tickwork.model import TERMINAL_STATES, Run, RunState
from tickwork.store import open_store
from tickwork.store.base import RunFilter

from . import pg_effects

TICKWORK = [sys.executable, "-m", "tickwork"]


def write_config(path: Path, db: Path | str, schedules: str, **settings: str) -> Path:
    """A tickwork.toml; ``db`` is a SQLite file, or a database URL."""
    url = db if isinstance(db, str) else f"sqlite:///{db}"
    lines = ["[tickwork]", f'database_url = "{url}"']
    lines += [f'{k} = "{v}"' for k, v in settings.items()]
    path.write_text("\n".join(lines) + "\n\n" + schedules)
    return path


def in_seconds(seconds: float) -> str:
    instant = datetime.now(UTC) + timedelta(seconds=seconds)
    return instant.replace(microsecond=0).isoformat()


class Processes:
    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(
        self,
        config: Path,
        *extra: str,
        command: str = "run",
        env: dict[str, str] | None = None,
        wrapper: Sequence[str] = (),
    ) -> subprocess.Popen[bytes]:
        """``tickwork <command> --config <config>``; ``env`` is added to this process's
        environment, ``wrapper`` goes in front (``faketime -f +5m``). ``run`` serves on a
        free port (``--port 0``) unless ``extra`` says otherwise."""
        if command == "run" and not {"--port", "--no-web"} & set(extra):
            extra = (*extra, "--port", "0")  # several processes: each serves on a free port
        log = open(self.log_path(len(self.procs)), "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [*wrapper, *TICKWORK, command, "--config", str(config), *extra],
            cwd=self.cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            # A group of its own: a wrapper (faketime) runs tickwork as its child and does
            # not pass signals on, so stop_all signals the whole group, never just the pid.
            start_new_session=True,
        )
        log.close()
        self.procs.append(proc)
        return proc

    def log_path(self, index: int) -> Path:
        return self.cwd / f"process-{index}.log"

    def logs(self) -> list[str]:
        return [self.log_path(i).read_text(errors="replace") for i in range(len(self.procs))]

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                _signal_group(proc, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait()
            # A wrapper's child may outlive it (it got the SIGTERM too): given the same time
            # to stop, then killed, never left running after the test.
            deadline = time.monotonic() + 30
            while _signal_group(proc, 0) and time.monotonic() < deadline:
                time.sleep(0.05)
            _signal_group(proc, signal.SIGKILL)


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> bool:
    """Send ``sig`` to ``proc``'s process group; False when no process is left in it."""
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    procs = Processes(tmp_path)
    yield procs
    procs.stop_all()


def all_runs(db: Path) -> list[Run]:
    store = open_store(f"sqlite:///{db}")
    try:
        return store.list_runs(RunFilter(limit=1_000_000))
    finally:
        store.close()


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except Exception:  # the database may not exist yet
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def soak_seconds(default: int) -> int:
    """Bounded by default; TICKWORK_SOAK_SECONDS=N runs the long form."""
    return int(os.environ.get("TICKWORK_SOAK_SECONDS", default))


# -- PostgreSQL: a window of fire times, run by many processes, accounted for ---------------

E2E_DIR = Path(__file__).resolve().parent
TERMINAL = tuple(sorted(s.value for s in TERMINAL_STATES))


@dataclass(frozen=True)
class Accounting:
    """What the database holds for a window's fire times (see ``Window.account``)."""

    expected: int  # fire times in the window
    rows: int  # run rows of those fire times
    missing: int  # fire times without a run row
    extra: int  # run rows of fire times outside the expected set
    doubled: int  # fire times with more than one run row
    states: dict[str, int]
    effects: int  # idempotency keys the task recorded
    duplicates: int  # executions beyond the first, summed over keys
    succeeded_without_effect: int
    early: int  # first executions before their nominal fire (database clock)
    lag_p50: float  # seconds from nominal fire to first execution (database clock)
    lag_p99: float
    lag_max: float
    by_pid: dict[int, int]  # first executions per process

    @property
    def terminal(self) -> int:
        return sum(n for state, n in self.states.items() if state in TERMINAL)

    def line(self) -> str:
        states = ", ".join(f"{k} {v}" for k, v in sorted(self.states.items()))
        return (
            f"fires expected {self.expected}, run rows {self.rows} (missing {self.missing}, "
            f"doubled {self.doubled}, extra {self.extra}), states: {states}; effects "
            f"{self.effects}, duplicate executions {self.duplicates}, succeeded without "
            f"effect {self.succeeded_without_effect}; lag p50 {self.lag_p50:.2f}s p99 "
            f"{self.lag_p99:.2f}s max {self.lag_max:.2f}s, early {self.early}; first "
            f"executions by process {sorted(self.by_pid.values(), reverse=True)}"
        )


@dataclass(frozen=True)
class Window:
    """``schedules`` schedules firing every second from ``start`` to ``end`` (inclusive),
    each run executing ``pg_effects:record`` against the database at ``url``."""

    url: str
    schedules: int
    start: datetime
    end: datetime

    @classmethod
    def open(cls, url: str, schedules: int, seconds: int, lead: float = 4) -> Window:
        """A window starting ``lead`` seconds from now and its side table."""
        start = datetime.fromisoformat(in_seconds(lead))
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(pg_effects.TABLE_DDL)
        return cls(url, schedules, start, start + timedelta(seconds=seconds))

    @property
    def seconds(self) -> int:
        return int((self.end - self.start).total_seconds())

    @property
    def expected(self) -> set[tuple[str, datetime]]:
        return {
            (f"s{i:03}", self.start + timedelta(seconds=k))
            for i in range(self.schedules)
            for k in range(self.seconds + 1)
        }

    @property
    def env(self) -> dict[str, str]:
        path = os.environ.get("PYTHONPATH")
        return {
            pg_effects.URL_VARIABLE: self.url,
            "PYTHONPATH": os.pathsep.join(p for p in (str(E2E_DIR), path) if p),
        }

    def config(self, path: Path, **settings: str) -> Path:
        """A tickwork.toml of the window's schedules (overlap allow, 3 retries 1 s apart),
        ``settings`` in [tickwork], synced into the database before any process starts:
        a schedule defined after its start_at would not own the fires before (DESIGN.md:
        defining it "now"), however slowly the processes start."""
        tables = "".join(
            f"""
[[schedule]]
name = "s{i:03}"
cron = "* * * * * *"
task = "pg_effects:record"
overlap = "allow"
retries = 3
backoff = "1s"
start_at = "{self.start.isoformat()}"
end_at = "{self.end.isoformat()}"
"""
            for i in range(self.schedules)
        )
        written = write_config(path, self.url, tables, **settings)
        tw = Tickwork(config=written)
        try:
            tw.sync()
        finally:
            tw.close()
        return written

    def account(self) -> Accounting:
        with psycopg.connect(self.url) as conn:
            runs_ = conn.execute(
                "SELECT schedule, nominal_fire, state FROM tw_runs"
                " WHERE nominal_fire >= %s AND nominal_fire <= %s",
                [self.start, self.end],
            ).fetchall()
            effects = conn.execute(
                "SELECT e.key, e.executions, extract(epoch FROM e.db_at - e.nominal), e.pid,"
                " r.state FROM tw_e2e_effects e"
                " LEFT JOIN tw_runs r ON r.schedule = e.schedule AND r.nominal_fire = e.nominal"
            ).fetchall()
        fires = Counter((s, n.astimezone(UTC)) for s, n, _ in runs_)
        expected = self.expected
        succeeded = sum(state == RunState.succeeded.value for _, _, state in runs_)
        lags = sorted(float(lag) for _, _, lag, _, _ in effects)
        succeeded_effects = sum(state == RunState.succeeded.value for *_, state in effects)

        def quantile(q: float) -> float:
            return lags[min(len(lags) - 1, int(q * len(lags)))] if lags else 0.0

        return Accounting(
            expected=len(expected),
            rows=len(runs_),
            missing=len(expected - set(fires)),
            extra=len(set(fires) - expected),
            doubled=sum(n > 1 for n in fires.values()),
            states=dict(Counter(state for _, _, state in runs_)),
            effects=len(effects),
            duplicates=sum(n - 1 for _, n, _, _, _ in effects),
            succeeded_without_effect=succeeded - succeeded_effects,
            early=sum(lag < 0 for lag in lags),
            lag_p50=quantile(0.5),
            lag_p99=quantile(0.99),
            lag_max=lags[-1] if lags else 0.0,
            by_pid=dict(Counter(pid for _, _, _, pid, _ in effects)),
        )

    def settled(self) -> bool:
        """Every fire time of the window has a run, and every run is terminal."""
        with psycopg.connect(self.url) as conn:
            row = conn.execute(
                "SELECT count(*), count(*) FILTER (WHERE state = ANY(%s)) FROM tw_runs"
                " WHERE nominal_fire >= %s AND nominal_fire <= %s",
                [list(TERMINAL), self.start, self.end],
            ).fetchone()
        assert row is not None
        return bool(row[0] >= len(self.expected) and row[0] == row[1])

    def wait_settled(self, timeout: float) -> None:
        wait_for(self.settled, timeout, "every fire time of the window to have a finished run")

    def wait_started(self, timeout: float) -> None:
        """Until the window's first fire time has passed (database clock)."""

        def begun() -> bool:
            with psycopg.connect(self.url) as conn:
                row = conn.execute("SELECT clock_timestamp() > %s", [self.start]).fetchone()
            return bool(row and row[0])

        wait_for(begun, self.seconds + 60, "the window to begin")


def assert_exact(acc: Accounting, *, all_succeeded: bool = True) -> None:
    """Every fire time has exactly one run row, terminal; each succeeded run left its
    effect once by key (duplicate executions are reported, not effects)."""
    assert acc.missing == 0, acc.line()
    assert acc.extra == 0, acc.line()
    assert acc.doubled == 0, acc.line()
    assert acc.rows == acc.expected, acc.line()
    assert acc.terminal == acc.rows, acc.line()
    assert acc.succeeded_without_effect == 0, acc.line()
    if all_succeeded:
        assert acc.states == {RunState.succeeded.value: acc.expected}, acc.line()
        assert acc.effects == acc.expected, acc.line()
