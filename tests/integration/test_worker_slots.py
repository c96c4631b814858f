"""Where the worker runs a sync task: without a timeout in its own slot thread (a daemon
thread, no hand-off), with a timeout in a helper thread that the deadline can give up on.
On the fake clock."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

from tickwork.app import Tickwork
from tickwork.model import RunState
from tickwork.testing import FakeClock, run_until_idle

from .conftest import runs_of


def test_a_sync_task_without_a_timeout_runs_in_a_daemon_slot_thread(
    make_tw: Callable[..., Tickwork], clock: FakeClock
) -> None:
    tw = make_tw()
    threads: dict[str, threading.Thread] = {}
    tw.tasks.register("plain", lambda: threads.setdefault("plain", threading.current_thread()))
    tw.tasks.register("timed", lambda: threads.setdefault("timed", threading.current_thread()))
    tw.add_schedule(name="plain", every="1m", task="plain")
    tw.add_schedule(name="timed", every="1m", task="timed", timeout="30s")
    tw.sync()
    clock.advance(timedelta(minutes=1))
    run_until_idle(tw)
    assert [r.state for r in runs_of(tw, "plain")] == [RunState.succeeded]
    assert [r.state for r in runs_of(tw, "timed")] == [RunState.succeeded]
    assert threads["plain"].name.startswith("tickwork_")  # the worker's slot
    assert threads["plain"].daemon
    assert threads["timed"].name.startswith("tickwork-task-timed-")  # a helper
    assert threads["timed"] is not threads["plain"]
