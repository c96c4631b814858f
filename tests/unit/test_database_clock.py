"""DatabaseClock: the server's instant, followed on the host's monotonic clock."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from tickwork.clock import DatabaseClock, FakeClock
from tickwork.errors import StoreUnavailableError

SERVER = datetime.fromisoformat("2026-03-29T01:00:00+00:00")
HOST = datetime.fromisoformat("2026-03-29T01:07:00+00:00")  # the host is 7 minutes fast


class Ticks:
    """A monotonic clock moved by hand; ``trip`` seconds pass during each server read."""

    def __init__(self, trip: float = 0.0) -> None:
        self.value = 1000.0
        self.trip = trip

    def __call__(self) -> float:
        return self.value


class Server:
    def __init__(self, ticks: Ticks) -> None:
        self.ticks = ticks
        self.reads = 0
        self.down = False

    def read(self) -> datetime:
        self.reads += 1
        if self.down:
            raise StoreUnavailableError("database down")
        start = self.ticks.value
        self.ticks.value += self.ticks.trip / 2
        answer = SERVER + timedelta(seconds=start + self.ticks.trip / 2 - 1000.0)
        self.ticks.value += self.ticks.trip / 2
        return answer


@pytest.fixture
def ticks() -> Ticks:
    return Ticks()


@pytest.fixture
def server(ticks: Ticks) -> Server:
    return Server(ticks)


def _clock(server: Server, ticks: Ticks, refresh: float = 15, samples: int = 1) -> DatabaseClock:
    return DatabaseClock(
        server.read,
        refresh=timedelta(seconds=refresh),
        samples=samples,
        monotonic=ticks,
        fallback=FakeClock(HOST),
    )


def test_now_is_the_servers_clock_not_the_hosts(server: Server, ticks: Ticks) -> None:
    clock = _clock(server, ticks)
    assert clock.now() == SERVER
    assert clock.offset == SERVER - HOST  # minus seven minutes
    ticks.value += 2.5
    assert clock.now() == datetime.fromisoformat("2026-03-29T01:00:02.500000+00:00")
    assert server.reads == 1  # followed locally between readings


def test_a_reading_is_taken_as_of_the_end_of_its_round_trip_never_ahead(ticks: Ticks) -> None:
    ticks.trip = 0.2
    server = Server(ticks)
    clock = _clock(server, ticks)
    # The server answered 0.1 s into the trip and is at +0.2 s when now() returns: the clock
    # reads its answer, behind by the rest of the trip, never ahead (no fire starts early).
    assert clock.now() == SERVER + timedelta(seconds=0.1)
    ticks.value += 1
    assert clock.now() == SERVER + timedelta(seconds=1.1)


def test_of_several_readings_the_one_furthest_ahead_is_kept(ticks: Ticks) -> None:
    """A trip slowed on its way back (the reading thread waiting for the GIL) leaves its
    reading behind by the delay; the next reading of the same measurement is closer."""
    trips = iter([0.2, 0.002, 0.05])
    answered: list[float] = []

    def read() -> datetime:
        trip = next(trips)
        answered.append(ticks.value)  # the server answers at once, the trip back is slow
        ticks.value += trip
        return SERVER + timedelta(seconds=answered[-1] - 1000.0)

    clock = DatabaseClock(read, samples=3, monotonic=ticks, fallback=FakeClock(HOST))
    now = clock.now()
    # The server is at +0.252 s when now() returns; the 2 ms trip says +0.250 (a lower
    # bound: never ahead); the first trip alone would have said +0.05 behind by 0.2 s.
    assert now == SERVER + timedelta(seconds=0.25)
    assert now <= SERVER + timedelta(seconds=ticks.value - 1000.0)
    assert len(answered) == 3


def test_a_reading_that_fails_after_another_keeps_the_one_taken(
    server: Server, ticks: Ticks
) -> None:
    reads = iter([SERVER, StoreUnavailableError("gone")])

    def read() -> datetime:
        answer = next(reads)
        if isinstance(answer, Exception):
            raise answer
        return answer

    clock = DatabaseClock(read, samples=3, monotonic=ticks, fallback=FakeClock(HOST))
    assert clock.now() == SERVER
    assert clock.offset == SERVER - HOST


def test_a_measurement_needs_a_reading() -> None:
    with pytest.raises(ValueError, match="at least one reading"):
        DatabaseClock(lambda: SERVER, samples=0)


def test_a_thread_asking_before_the_first_reading_waits_for_it(ticks: Ticks) -> None:
    answer = threading.Event()
    entered = threading.Event()
    reads: list[int] = []

    def slow_read() -> datetime:
        reads.append(1)
        entered.set()
        assert answer.wait(5)
        return SERVER

    clock = DatabaseClock(slow_read, samples=1, monotonic=ticks, fallback=FakeClock(HOST))
    seen: dict[str, datetime] = {}
    first = threading.Thread(target=lambda: seen.setdefault("first", clock.now()))
    first.start()
    assert entered.wait(5)  # the first reading is in flight
    second = threading.Thread(target=lambda: seen.setdefault("second", clock.now()))
    second.start()
    second.join(0.2)  # (a bound, not a schedule: the old code answered within microseconds)
    assert second.is_alive()  # waiting for the reading, not answering with the host clock
    answer.set()
    first.join(5)
    second.join(5)
    assert seen == {"first": SERVER, "second": SERVER}  # never the host's +7 minutes
    assert len(reads) == 1


def test_the_server_is_read_again_every_refresh(server: Server, ticks: Ticks) -> None:
    clock = _clock(server, ticks, refresh=15)
    clock.now()
    ticks.value += 14.9
    clock.now()
    assert server.reads == 1
    ticks.value += 0.2
    assert clock.now() == SERVER + timedelta(seconds=15.1)
    assert server.reads == 2


def test_an_unreachable_server_keeps_the_last_reading_and_is_retried_each_second(
    server: Server, ticks: Ticks
) -> None:
    clock = _clock(server, ticks, refresh=15)
    clock.now()
    server.down = True
    ticks.value += 20
    assert clock.now() == SERVER + timedelta(seconds=20)
    assert clock.now() == SERVER + timedelta(seconds=20)
    assert server.reads == 2  # not once per call
    ticks.value += 1
    clock.now()
    assert server.reads == 3


def test_before_any_reading_the_host_clock_stands_in(server: Server, ticks: Ticks) -> None:
    server.down = True
    clock = _clock(server, ticks)
    assert clock.now() == HOST
    assert clock.offset is None
    server.down = False
    ticks.value += 1
    assert clock.now() == HOST  # never backwards: the server is 7 minutes behind the host
    ticks.value += 7 * 60 + 1
    assert clock.now() == SERVER + timedelta(seconds=7 * 60 + 2)


def test_now_never_goes_backwards_when_a_reading_comes_in_earlier(ticks: Ticks) -> None:
    readings = iter([SERVER, SERVER])  # the second reading is 16 s behind the first one
    clock = DatabaseClock(
        lambda: next(readings),
        refresh=timedelta(seconds=15),
        samples=1,
        monotonic=ticks,
        fallback=FakeClock(HOST),
    )
    assert clock.now() == SERVER
    ticks.value += 14
    assert clock.now() == SERVER + timedelta(seconds=14)
    ticks.value += 2
    assert clock.now() == SERVER + timedelta(seconds=14)  # held, not moved back
    ticks.value += 13
    assert clock.now() == SERVER + timedelta(seconds=14)
    ticks.value += 1
    assert clock.now() == SERVER + timedelta(seconds=14)  # until the server catches up


def test_wait_counts_on_the_servers_clock(server: Server, ticks: Ticks) -> None:
    clock = _clock(server, ticks)
    wake = threading.Event()
    wake.set()
    assert clock.wait(SERVER + timedelta(hours=1), wake) is True
    assert clock.wait(SERVER - timedelta(seconds=1), threading.Event()) is False
    assert clock.now().tzinfo is UTC
