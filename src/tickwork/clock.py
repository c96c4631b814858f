"""Clocks. Everything that needs the time is given a clock; the loop reads it once per
iteration and passes ``now`` down (STYLE.md habit 1)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from tickwork.errors import StoreUnavailableError

__all__ = ["Clock", "DatabaseClock", "FakeClock", "SystemClock"]

log = logging.getLogger("tickwork.clock")


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


class DatabaseClock:
    """The database server's clock, followed locally (DESIGN.md, engine sketch: "in
    production on PostgreSQL, the database's clock", so hosts whose clocks disagree agree
    on ``now`` and on every lease and fire time compared with it).

    ``read`` returns the server's instant (one round trip). It is read at the first
    ``now()`` and again every ``refresh``; in between ``now()`` is the last reading plus the
    time elapsed on this host's monotonic clock, so neither a skewed nor a stepped host
    clock shows through. A reading is taken as of the end of its round trip: ``now()`` is
    never ahead of the server's clock (a fire never starts early by it), and behind it by at
    most that round trip. (Taken as the middle, a trip slowed before the server answered, a
    thread waiting for the GIL, put the clock ahead by half the delay, and a second's fires
    of 50 schedules started early.) Each measurement reads the server ``samples`` times and
    keeps the reading furthest ahead, which is still never ahead: one trip slowed on its way
    back (a busy host) would otherwise hold every process's fires that much late until the
    next ``refresh``. ``now()`` never goes backwards. A thread asking before
    the first reading waits for the one being taken; when ``read`` fails (database
    unreachable) the last reading keeps being followed, a new one is tried at most once a
    second, and before any reading succeeded the host clock stands in.
    """

    def __init__(
        self,
        read: Callable[[], datetime],
        *,
        refresh: timedelta = timedelta(seconds=15),
        samples: int = 3,
        monotonic: Callable[[], float] = time.monotonic,
        fallback: Clock | None = None,
    ) -> None:
        if samples < 1:
            raise ValueError(f"a measurement needs at least one reading, got {samples}")
        self._read = read
        self._refresh = refresh.total_seconds()
        self._samples = samples
        self._monotonic = monotonic
        self._fallback = fallback or SystemClock()
        self._lock = threading.Lock()  # guards _base and _last
        self._measuring = threading.Lock()  # held by the one thread reading the server
        self._base: tuple[datetime, float] | None = None  # (server instant, monotonic then)
        self._next_read = 0.0  # monotonic instant of the next reading
        self._last: datetime | None = None

    @property
    def offset(self) -> timedelta | None:
        """The server's clock minus this host's, as last measured (None before)."""
        with self._lock:
            if self._base is None:
                return None
            server, at = self._base
        return server + timedelta(seconds=self._monotonic() - at) - self._fallback.now()

    def now(self) -> datetime:
        if self._monotonic() >= self._next_read:
            self._measure(wait=self._base is None)
        with self._lock:
            if self._base is None:
                current = self._fallback.now()
            else:
                server, at = self._base
                current = server + timedelta(seconds=self._monotonic() - at)
            if self._last is not None and current < self._last:
                current = self._last
            self._last = current
            return current

    def wait(self, until: datetime, wake: threading.Event) -> bool:
        delay = (until - self.now()).total_seconds()
        return wake.wait(max(0.0, delay))

    def _measure(self, *, wait: bool) -> None:
        """Read the server's clock; one thread at a time. Once there is a reading the others
        go on with it instead of waiting for the round trip; before, they ``wait`` for the
        one in flight (the host clock they would use instead may be minutes off)."""
        if not self._measuring.acquire(blocking=wait):
            return
        try:
            if self._monotonic() < self._next_read:  # read (or tried) while this one waited
                return
            best: tuple[datetime, float] | None = None
            for _ in range(self._samples):
                try:
                    server = self._read()
                except StoreUnavailableError as err:
                    log.debug("database clock not read: %s", err)
                    break
                after = self._monotonic()
                # Each reading is a lower bound of the server's clock at ``after``: the
                # highest of them (the server instant at monotonic 0) is the closest.
                if best is None or server - timedelta(seconds=after) > best[0] - timedelta(
                    seconds=best[1]
                ):
                    best = (server.astimezone(UTC), after)
            if best is None:
                self._next_read = self._monotonic() + min(1.0, self._refresh)
                return
            with self._lock:
                self._base = best
            self._next_read = best[1] + self._refresh
        finally:
            self._measuring.release()


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
            # Until the fake time moves or ``wake`` is set (``Engine.wake``, ``Tickwork.stop``
            # set it without touching this clock, hence the short slices).
            seen, give_up = self._now, time.monotonic() + self._real_timeout
            while not wake.is_set() and self._now == seen:
                left = give_up - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(min(left, 0.01))
        return wake.is_set()
