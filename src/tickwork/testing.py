"""Helpers for testing code that uses tickwork: a fake clock and a way to run the engine
until it has nothing left to do, without sleeping.

    clock = FakeClock(datetime(2026, 3, 29, 0, 0, tzinfo=UTC))
    tw = Tickwork(database_url=f"sqlite:///{tmp_path}/tw.db", clock=clock)
    ...
    clock.advance(timedelta(hours=3))
    run_until_idle(tw)
"""

from __future__ import annotations

from tickwork.app import Tickwork
from tickwork.clock import FakeClock

__all__ = ["FakeClock", "run_until_idle"]


def run_until_idle(tw: Tickwork, *, timeout: float = 10.0, max_rounds: int = 10_000) -> int:
    """Step the engine at the clock's current instant until no run is enqueued, claimed,
    reclaimed or in flight. Returns the number of steps that did work. ``timeout`` (real
    seconds per wait for running tasks) is only a safety net."""
    engine = tw.engine()
    for rounds in range(max_rounds):
        done = engine.run_once(tw.clock.now())
        worker = engine.worker
        busy = worker is not None and worker.in_flight() > 0
        if busy:
            assert worker is not None
            if not worker.wait_idle(timeout):
                raise TimeoutError(f"tasks still running after {timeout}s")
        if not done and not busy:
            return rounds
    raise RuntimeError(f"engine still busy after {max_rounds} rounds")
