from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest


@pytest.fixture
def cancel_after() -> Iterator[Callable[[threading.Event, float], None]]:
    """Set an event after a delay, from a timer thread joined at teardown."""
    timers: list[threading.Timer] = []

    def start(event: threading.Event, seconds: float) -> None:
        timer = threading.Timer(seconds, event.set)
        timers.append(timer)
        timer.start()

    yield start
    for timer in timers:
        timer.cancel()
        timer.join()
