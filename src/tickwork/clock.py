"""Clocks. Everything that needs the time is given a clock; the loop reads it once per
iteration and passes ``now`` down (STYLE.md habit 1)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["Clock", "FakeClock", "SystemClock"]


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, aware, UTC."""
        ...

    def wait(self, until: datetime, wake: threading.Event) -> bool:
        """Block until ``until`` or until ``wake`` is set; True when woken by ``wake``."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def wait(self, until: datetime, wake: threading.Event) -> bool:
        delay = (until - self.now()).total_seconds()
        return wake.wait(max(0.0, delay))


class FakeClock:
    """A clock that moves only when told to. ``wait`` returns at once when the fake time has
    reached ``until`` and otherwise waits for ``advance`` or ``wake`` (a real timeout of
    ``real_timeout`` seconds is only a safety net)."""

    def __init__(self, start: datetime | None = None, *, real_timeout: float = 5.0) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        if self._now.tzinfo is None:
            raise ValueError("FakeClock needs an aware start instant")
        self._changed = threading.Condition()
        self._real_timeout = real_timeout

    def now(self) -> datetime:
        with self._changed:
            return self._now

    def set(self, instant: datetime) -> None:
        with self._changed:
            self._now = instant.astimezone(UTC)
            self._changed.notify_all()

    def advance(self, delta: timedelta | float) -> datetime:
        step = delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        with self._changed:
            self._now += step
            self._changed.notify_all()
            return self._now

    def wait(self, until: datetime, wake: threading.Event) -> bool:
        with self._changed:
            if wake.is_set():
                return True
            if self._now >= until:
                return False
            self._changed.wait(self._real_timeout)
        return wake.is_set()
