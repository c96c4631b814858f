"""In the running loop (``Tickwork.start``/``tickwork run``) the monitor's periodic passes
(health, alerts, overdue, retention) have a thread of their own: a long pass does not hold up
a fire that comes due meanwhile. On the fake clock; real timeouts are safety nets only."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest

from tickwork.app import Tickwork
from tickwork.model import RunState
from tickwork.monitor import Monitor
from tickwork.testing import FakeClock

from .conftest import runs_of, wait_for


def test_a_fire_runs_while_a_monitor_pass_is_still_going(
    make_tw: Callable[..., Tickwork], clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_pass, release = threading.Event(), threading.Event()
    record = Monitor.record

    def slow_record(self: Monitor, now: object, **pages: int) -> bool:
        in_pass.set()
        release.wait(10)  # a pass over many finished runs
        return record(self, now, **pages)  # type: ignore[arg-type]

    monkeypatch.setattr(Monitor, "record", slow_record)
    tw = make_tw()
    ran = threading.Event()
    tw.tasks.register("job", lambda: ran.set())
    tw.add_schedule(name="job", every="1m", task="job")
    tw.sync()
    tw.start()
    try:
        assert in_pass.wait(10)  # the first periodic pass is under way, on its own thread
        monitor_threads = [t for t in threading.enumerate() if t.name == "tickwork-monitor"]
        assert len(monitor_threads) == 1
        clock.advance(timedelta(minutes=1))
        assert ran.wait(10)  # the loop ran the fire meanwhile
        wait_for(lambda: [r.state for r in runs_of(tw, "job")] == [RunState.succeeded])
    finally:
        release.set()
        tw.stop()
    assert not [t for t in threading.enumerate() if t.name == "tickwork-monitor"]
