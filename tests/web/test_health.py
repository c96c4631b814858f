"""/health answers whatever the database does; /ready says 503 and why when the database is
unreachable, when this process's loops stop heartbeating, and while it drains."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from tickwork.app import Tickwork
from tickwork.context import TaskContext
from tickwork.model import WorkerInfo
from tickwork.testing import FakeClock
from tickwork.web import create_app
from tickwork.web.health import assess_loops

from .conftest import T0, TestClient

LEASE = timedelta(seconds=30)
ME = WorkerInfo("h:1:a", "h", 1, "0.1.0", "scheduler,worker", T0, T0)


def eventually(predicate: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Until the engine thread reached a state (a safety-net deadline, not a wait on time)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


@pytest.mark.parametrize(
    ("roles", "own", "age", "expected"),
    [
        ((), None, 0, None),
        (("scheduler", "worker"), ME, 0, None),
        (("worker",), ME, 30, None),  # exactly one lease: still alive
        (("worker",), ME, 31, "worker not heartbeating: last heartbeat 31 s ago, more than"),
        (("scheduler", "worker"), None, 0, "scheduler and worker not registered"),
    ],
    ids=["no-loops", "fresh", "one-lease-old", "stale", "unregistered"],
)
def test_assess_loops(
    roles: tuple[str, ...], own: WorkerInfo | None, age: int, expected: str | None
) -> None:
    reason = assess_loops(roles, own, T0 + timedelta(seconds=age), LEASE)
    if expected is None:
        assert reason is None
    else:
        assert reason is not None
        assert reason.startswith(expected)


def test_health_and_ready_of_a_process_that_only_serves(client: TestClient) -> None:
    health = client.get("/health")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert health.headers["cache-control"] == "no-store"
    ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "checks": {"database": "ok", "loops": "none in this process"},
    }


@pytest.mark.parametrize(
    "url",
    ["sqlite:///{tmp}/no/such/dir/tw.db", "postgresql://tickwork@127.0.0.1:1/tickwork"],
    ids=["sqlite-directory-missing", "postgres-refused"],
)
def test_ready_is_503_with_the_reason_when_the_database_is_unreachable(
    make_tw: Callable[..., Tickwork], tmp_path: Path, url: str
) -> None:
    tw = make_tw(database_url=url.format(tmp=tmp_path))
    with TestClient(create_app(tw)) as http:
        assert http.get("/health").status_code == 200  # liveness never depends on it
        ready = http.get("/ready")
    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "not ready"
    assert body["checks"] == {"database": "unreachable"}
    assert body["reason"] == (
        "database unreachable (StoreUnavailableError; the process log says why); "
        "retrying later can help"
    )
    assert "127.0.0.1" not in ready.text  # where the database is stays private
    assert str(tmp_path) not in ready.text


def test_ready_follows_the_heartbeat_of_this_process_loops(
    tw: Tickwork, clock: FakeClock, client: TestClient
) -> None:
    tw.start()
    try:
        eventually(lambda: client.get("/ready").status_code == 200, "the loops to register")
        assert client.get("/ready").json()["checks"] == {"database": "ok", "loops": "ok"}
        # The loop is stuck (its last heartbeat is older than a lease): not ready, and why.
        tw.store.heartbeat_worker(tw.worker_id, clock.now() - LEASE - timedelta(seconds=15))
        stale = client.get("/ready")
        assert stale.status_code == 503
        assert stale.json()["reason"] == (
            "scheduler and worker not heartbeating: last heartbeat 45 s ago, "
            "more than the lease (30 s)"
        )
        assert stale.json()["checks"]["loops"] == "stale"
    finally:
        tw.stop()
    # Stopped: the process no longer runs loops, so only the database is checked.
    assert client.get("/ready").json()["checks"]["loops"] == "none in this process"


def test_ready_is_503_while_draining(
    make_tw: Callable[..., Tickwork], tmp_path: Path, clock: FakeClock
) -> None:
    from tickwork.config import Settings

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'd.db'}", stop_grace=LEASE)
    tw = make_tw(config=settings, database_url=None)
    started, release = threading.Event(), threading.Event()

    @tw.task(name="slow")
    def slow(context: TaskContext) -> None:
        started.set()
        release.wait(10)

    tw.add_schedule(name="slow", task="slow", every="1h")
    with TestClient(create_app(tw)) as http:
        tw.start()
        eventually(lambda: http.get("/ready").status_code == 200, "the loops to register")
        tw.trigger("slow")
        clock.advance(timedelta(seconds=1))  # the fake clock's wait hears of the wake-up
        assert started.wait(10)
        stopper = threading.Thread(target=tw.stop)
        stopper.start()
        eventually(lambda: http.get("/ready").status_code == 503, "the drain to begin")
        assert http.get("/ready").json()["reason"] == "stopping: draining running tasks"
        assert http.get("/health").status_code == 200
        release.set()
        stopper.join(10)
        assert not stopper.is_alive()
