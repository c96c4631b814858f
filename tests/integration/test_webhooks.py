"""Webhook delivery (tickwork.alerts) to a local HTTP server: signed, retried with backoff,
never holding up the scheduler."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tickwork.alerts import SIGNATURE_HEADER, TIMESTAMP_HEADER, AlertSender, SenderSettings, verify
from tickwork.app import Tickwork
from tickwork.config import Settings
from tickwork.store.base import RunFilter
from tickwork.testing import FakeClock, run_until_idle

from .conftest import T0

SECRET = "s3cret"
MINUTE = timedelta(minutes=1)


class Receiver:
    """An HTTP server answering each POST with the next status of ``statuses`` (then 200),
    keeping what it received."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = list(statuses)
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Callable[[list[int]], Receiver]]:
    made: list[Receiver] = []

    def make(statuses: list[int]) -> Receiver:
        made.append(Receiver(statuses))
        return made[-1]

    yield make
    for r in made:
        r.close()


@pytest.fixture
def failing_app(tmp_path: Path, clock: FakeClock) -> Iterator[Callable[[str], Tickwork]]:
    made: list[Tickwork] = []

    def make(url: str) -> Tickwork:
        settings = replace(
            Settings(database_url=f"sqlite:///{tmp_path / 'tw.db'}"),
            webhook_url=url,
            webhook_secret=SECRET,
        )
        tw = Tickwork(config=settings, clock=clock, worker_id="w")

        @tw.task(cron="* * * * *")
        def broken() -> None:
            raise RuntimeError("boom")

        tw.sync()
        made.append(tw)
        return tw

    yield make
    for tw in made:
        tw.close()


def fail_once(tw: Tickwork, clock: FakeClock) -> None:
    """One failed run of ``broken`` and the monitor pass that alerts on it."""
    clock.advance(MINUTE)
    run_until_idle(tw)
    clock.advance(timedelta(seconds=6))
    run_until_idle(tw)


def test_a_signed_alert_is_retried_after_a_500_and_delivered(
    failing_app: Callable[[str], Tickwork],
    receiver: Callable[[list[int]], Receiver],
    clock: FakeClock,
) -> None:
    hook = receiver([500])
    tw = failing_app(hook.url)
    fail_once(tw, clock)
    sender = tw.alert_sender()
    assert sender is not None

    assert sender.run_once(clock.now()) == 1  # answered 500
    [alert] = tw.ops_store.list_alerts()
    assert (alert.attempts, alert.last_error, alert.delivered_at) == (1, "HTTP 500", None)
    assert alert.next_attempt_at == clock.now() + SenderSettings().backoff
    assert sender.run_once(clock.now()) == 0  # not before its backoff
    clock.advance(SenderSettings().backoff)
    assert sender.run_once(clock.now()) == 1  # answered 200
    [alert] = tw.ops_store.list_alerts()
    assert alert.delivered_at == clock.now()
    assert sender.run_once(clock.now() + timedelta(days=1)) == 0  # delivered once

    assert len(hook.received) == 2
    for headers, body in hook.received:
        assert verify(SECRET, body, headers[SIGNATURE_HEADER])
        assert not verify("another secret", body, headers[SIGNATURE_HEADER])
        assert headers["Content-Type"] == "application/json"
        assert json.loads(body)["sent_at"] == int(headers[TIMESTAMP_HEADER])
    message = json.loads(hook.received[-1][1])
    assert message["kind"] == "run_failed"
    assert message["schedule"] == "broken"
    assert message["fire"] == (T0 + MINUTE).isoformat()
    assert "RuntimeError: boom" in message["error"]
    assert message["delivery_attempt"] == 2
    assert message["alert_id"] == alert.id
    outcomes = {
        s.labels["outcome"]: s.value
        for m in tw.metrics.registry.collect()
        if m.name == "tickwork_alerts"
        for s in m.samples
        if s.name == "tickwork_alerts_total"
    }
    assert outcomes == {"created": 1.0, "retried": 1.0, "delivered": 1.0}


def test_an_alert_is_given_up_after_the_last_attempt(
    failing_app: Callable[[str], Tickwork],
    receiver: Callable[[list[int]], Receiver],
    clock: FakeClock,
) -> None:
    hook = receiver([503, 503, 503])
    tw = failing_app(hook.url)
    fail_once(tw, clock)
    sender = AlertSender(
        tw.ops_store,
        clock,
        hook.url,
        SECRET,
        settings=SenderSettings(max_attempts=3, backoff=timedelta(seconds=10)),
    )
    waits = []
    for _ in range(3):
        assert sender.run_once(clock.now()) == 1
        [alert] = tw.ops_store.list_alerts()
        waits.append(alert.next_attempt_at - clock.now())
        clock.advance(timedelta(minutes=5))
    assert waits[:2] == [timedelta(seconds=10), timedelta(seconds=20)]  # doubling
    [alert] = tw.ops_store.list_alerts()
    assert alert.failed_at is not None
    assert alert.delivered_at is None
    assert sender.run_once(clock.now()) == 0
    assert len(hook.received) == 3


def test_an_unanswering_receiver_never_holds_up_the_scheduler(
    failing_app: Callable[[str], Tickwork], clock: FakeClock
) -> None:
    # A server that accepts connections and never answers: each POST waits for its timeout.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    connected = threading.Event()
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = silent.accept()
            except OSError:
                return
            held.append(conn)
            connected.set()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    url = f"http://127.0.0.1:{silent.getsockname()[1]}/hook"
    tw = failing_app(url)
    fail_once(tw, clock)
    sender = tw.alert_sender()
    assert sender is not None
    sender.settings = SenderSettings(timeout=timedelta(seconds=30))
    sender.start()
    try:
        assert connected.wait(10), "the sender never tried to deliver"
        # The sender is stuck in its POST; the engine goes on scheduling and alerting.
        for _ in range(3):
            fail_once(tw, clock)
        assert [r.state.value for r in tw.store.list_runs(RunFilter(schedule="broken"))] == [
            "failed"
        ] * 4
        assert len(tw.ops_store.list_alerts()) >= 4
    finally:
        for conn in held:  # the POST ends (connection closed) and the thread stops
            conn.close()
        sender.stop(timeout=10)
        with contextlib.suppress(OSError):
            silent.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept (close alone does not)
        silent.close()
        acceptor.join(10)
        for conn in held:  # any the sender opened meanwhile (its retry): never left to GC
            conn.close()


def test_the_documented_verification_snippet_accepts_a_real_alert(
    failing_app: Callable[[str], Tickwork],
    receiver: Callable[[list[int]], Receiver],
    clock: FakeClock,
) -> None:
    docs = Path(__file__).parents[2] / "docs" / "operations.md"
    section = docs.read_text().split("### Verifying the signature", 1)[1]
    snippet = section.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, object] = {}
    exec(compile(snippet, str(docs), "exec"), namespace)
    verify_tickwork = namespace["verify_tickwork"]
    assert callable(verify_tickwork)

    hook = receiver([])
    tw = failing_app(hook.url)
    fail_once(tw, clock)
    sender = tw.alert_sender()
    assert sender is not None
    sender.run_once(clock.now())
    [(headers, body)] = hook.received
    signature = headers[SIGNATURE_HEADER]
    message = verify_tickwork(SECRET, body, signature, max_age=10**10)
    assert message["schedule"] == "broken"
    with pytest.raises(ValueError, match="bad signature"):
        verify_tickwork(SECRET, body.replace(b"broken", b"broker"), signature, max_age=10**10)
    with pytest.raises(ValueError, match="stale"):
        verify_tickwork(SECRET, body, signature)  # sent at fake 2026-03-02: long ago
