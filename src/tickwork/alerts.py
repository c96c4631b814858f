"""Webhook delivery of alerts from the outbox (``tw_alerts``), in a thread of its own.

Each alert is POSTed as JSON to ``webhook_url`` with

- ``X-Tickwork-Signature: sha256=<hex HMAC-SHA256 of the body, key webhook_secret>``
- ``X-Tickwork-Timestamp: <unix seconds>``, equal to the body's ``sent_at`` (signed with it:
  a receiver refuses bodies whose ``sent_at`` is too old, against replays).

A 2xx answer delivers it; anything else (another status, a refused connection, a timeout
after ``timeout``) is retried with exponential backoff (``backoff`` doubling up to
``backoff_max``), kept durably in the row (attempts, next_attempt_at), up to
``max_attempts``; then the alert is marked failed. The scheduler never waits for this: the
sender runs in its own thread with short timeouts. Alerts are claimed atomically (leased
for ``lease``), so several processes share the outbox and each alert is normally delivered
once; delivery is at-least-once (a process that dies after the POST and before recording it
leaves the alert to be sent again when its lease ends): receivers deduplicate by ``alert_id``.
See docs/operations.md for verifying the signature.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tickwork import __version__, events
from tickwork.clock import Clock
from tickwork.errors import StoreUnavailableError
from tickwork.metrics import Metrics
from tickwork.store.ops import Alert, OperationsStore

__all__ = ["AlertSender", "SenderSettings", "sign", "verify"]

log = logging.getLogger("tickwork.alerts")

SIGNATURE_HEADER = "X-Tickwork-Signature"
TIMESTAMP_HEADER = "X-Tickwork-Timestamp"


@dataclass(frozen=True, slots=True)
class SenderSettings:
    timeout: timedelta = timedelta(seconds=5)
    max_attempts: int = 8
    backoff: timedelta = timedelta(seconds=10)
    backoff_max: timedelta = timedelta(hours=1)
    lease: timedelta = timedelta(minutes=2)  # longer than a batch of timeouts
    batch: int = 10
    poll: timedelta = timedelta(seconds=2)


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for ``body``."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, body: bytes, signature: str) -> bool:
    """Whether ``signature`` (the header's value) signs ``body`` (constant-time)."""
    return hmac.compare_digest(sign(secret, body), signature)


# POST(url, body, headers, timeout seconds) -> HTTP status; raises OSError when no answer.
Poster = Callable[[str, bytes, dict[str, str], float], int]


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


class AlertSender:
    """Delivers due alerts: ``run_once(now)`` one batch; ``run(stop)`` loops (a thread)."""

    def __init__(
        self,
        store: OperationsStore,
        clock: Clock,
        url: str,
        secret: str | None,
        *,
        settings: SenderSettings | None = None,
        metrics: Metrics | None = None,
        post: Poster = _post,
    ) -> None:
        self.store, self.clock, self.url, self.secret = store, clock, url, secret
        self.settings = settings or SenderSettings()
        self.metrics = metrics
        self._post = post
        self.wake_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def body(self, alert: Alert, now: datetime) -> bytes:
        message: dict[str, Any] = {
            **alert.payload,
            "alert_id": alert.id,
            "kind": alert.kind,
            "schedule": alert.schedule,
            "created_at": alert.created_at.isoformat(),
            "delivery_attempt": alert.attempts,
            "sent_at": int(now.timestamp()),
        }
        return json.dumps(message, sort_keys=True, separators=(",", ":")).encode()

    def run_once(self, now: datetime) -> int:
        """Claim and POST one batch of due alerts. Returns how many were attempted."""
        batch = self.store.claim_alerts(now, self.settings.lease, self.settings.batch)
        for alert in batch:
            self._deliver(alert, now)
        return len(batch)

    def _deliver(self, alert: Alert, now: datetime) -> None:
        body = self.body(alert, now)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"tickwork/{__version__}",
            TIMESTAMP_HEADER: str(int(now.timestamp())),
        }
        if self.secret:
            headers[SIGNATURE_HEADER] = sign(self.secret, body)
        error: str | None
        try:
            status = self._post(self.url, body, headers, self.settings.timeout.total_seconds())
            error = None if 200 <= status < 300 else f"HTTP {status}"
        except (OSError, ValueError) as exc:  # refused, DNS, timeout, bad URL
            error = f"{type(exc).__name__}: {exc}"
        context = {"kind": alert.kind, "schedule": alert.schedule, "alert_id": alert.id}
        if error is None:
            self.store.alert_delivered(alert.id, now)
            log.info("alert delivered", extra={"action": events.ALERT_DELIVERED, **context})
            self._count(alert, "delivered")
            return
        retry_at = None
        if alert.attempts < self.settings.max_attempts:
            delay = self.settings.backoff * 2 ** (alert.attempts - 1)
            retry_at = now + min(delay, self.settings.backoff_max)
        self.store.alert_attempt_failed(alert.id, now, error, retry_at)
        if retry_at is None:
            log.error(
                "alert not delivered after %s attempts: %s",
                alert.attempts,
                error,
                extra={"action": events.ALERT_FAILED, **context},
            )
            self._count(alert, "failed")
        else:
            log.warning(
                "alert delivery failed (%s); next attempt at %s",
                error,
                retry_at.isoformat(),
                extra={
                    "action": events.ALERT_RETRY_SCHEDULED,
                    "attempt": alert.attempts,
                    **context,
                },
            )
            self._count(alert, "retried")

    def _count(self, alert: Alert, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.alerts.labels(kind=alert.kind, outcome=outcome).inc()

    # -- the thread ----------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Deliver until ``stop`` is set; database outages and bugs are logged, not raised."""
        while not stop.is_set():
            self.wake_event.clear()
            now = self.clock.now()
            try:
                sent = self.run_once(now)
            except StoreUnavailableError as err:
                log.warning("alert outbox unavailable: %s", err, extra={"action": "alerts_wait"})
                sent = 0
            except Exception:  # never let one bad alert end delivery
                log.exception("alert delivery pass failed", extra={"action": "alerts_error"})
                sent = 0
            if not sent and not stop.is_set():
                self.clock.wait(now + self.settings.poll, self.wake_event)

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self.run, args=(self._stop,), name="tickwork-alerts", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        self.wake_event.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            wait = self.settings.timeout.total_seconds() + 1 if timeout is None else timeout
            thread.join(wait)
