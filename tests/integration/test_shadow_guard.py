"""Shadow mode is only safe on a database of its own: a shadow process refuses to start
beside alive live workers, and a live one is warned about alive shadow workers."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from datetime import timedelta

import pytest

from tickwork.app import Tickwork
from tickwork.errors import NotPermittedError
from tickwork.testing import FakeClock

ME = f"{socket.gethostname()}:{os.getpid()}"  # every Tickwork of this test registers as this


@pytest.fixture(autouse=True)
def _logging_left_to_pytest(monkeypatch: pytest.MonkeyPatch) -> None:
    """run() configures logging only where nothing is: keep records reaching caplog."""
    logger = logging.getLogger("tickwork")
    monkeypatch.setattr(logger, "handlers", [logging.NullHandler()])
    monkeypatch.setattr(logger, "propagate", True)


def _registered(tw: Tickwork, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run ``tw`` until it has registered, and leave it registered (as if still alive)."""
    monkeypatch.setattr(tw.store, "deregister_worker", lambda _id: None)
    tw._stop.set()  # the loop ends at once: what is left is the registration
    tw.run(install_signals=False)


def test_a_shadow_process_refuses_to_start_beside_an_alive_live_worker(
    make_tw: Callable[..., Tickwork], clock: FakeClock
) -> None:
    live = make_tw(worker_id="live")
    live.register("scheduler,worker")
    shadow = make_tw(worker_id="shadow", shadow=True)
    shadow.add_schedule(name="tick", every="1m", command="true")
    shadow._stop.set()  # were it let start, its loop would end at once (no hang)
    with pytest.raises(NotPermittedError) as refused:
        shadow.run(install_signals=False)
    message = str(refused.value)
    assert f"live worker {ME} (live, roles scheduler,worker) is registered" in message
    assert "expected a staging database of its own" in message
    assert refused.value.retryable is False
    assert refused.value.got == [ME]
    with pytest.raises(NotPermittedError):
        shadow.start()  # embedding: the refusal reaches the caller, not only a thread
    # Nothing was changed: no schedule synced, no run, the shadow process not registered.
    assert shadow.store.get_schedule("tick") is None
    assert [w.id for w in shadow.store.list_workers()] == ["live"]
    # A scheduler-only live process claims no runs; a stale worker is not alive.
    live.register("scheduler")
    shadow.preflight()
    live.register("scheduler,worker")
    clock.advance(live.settings.lease + timedelta(seconds=1))
    shadow.preflight()


def test_a_shadow_process_registers_as_shadow_and_a_live_start_is_warned(
    make_tw: Callable[..., Tickwork],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    shadow = make_tw(worker_id="shadow", shadow=True)
    _registered(shadow, monkeypatch)
    [info] = shadow.store.list_workers()
    assert info.roles == "scheduler,worker,shadow"
    other_shadow = make_tw(worker_id="shadow-2", shadow=True)
    other_shadow.preflight()  # shadow beside shadow: allowed
    live = make_tw(worker_id="live")
    caplog.set_level(logging.WARNING, logger="tickwork")
    live.preflight()  # allowed, but loudly
    [warned] = [r for r in caplog.records if getattr(r, "action", None) == "shadow_workers_alive"]
    assert warned.levelno == logging.WARNING
    assert f"shadow workers {ME} (shadow, roles scheduler,worker,shadow)" in warned.getMessage()
    assert warned.workers == [ME]
