"""Monitor: the scheduler process's maintenance pass (issue 7, Operations).

``run_once(now)`` has the shape of the reaper's and is stepped by the engine loop; it does,
each at its own pace:

- ``feed``: releases parked backfill runs one at a time per idle schedule (every step while
  a backfill waits, else every ``interval``);
- ``record``: looks at runs that finished since its cursor: schedule health, ``run_failed``
  alerts, pause after ``pause_after`` failures in a row (every ``interval``);
- ``check``: decides overdue for a page of schedules (``policies/overdue.py``; every
  ``interval``, the pages cycle through all schedules);
- ``prune``: a few small batches of retention when ``retention`` > 0 (every
  ``prune_interval``).

Several scheduler processes may run it at once: health is recomputed, not incremented, and
alerts are unique per (kind, schedule, fire) in the database.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from tickwork import events
from tickwork.errors import InvalidSpecError, StoreUnavailableError
from tickwork.metrics import Metrics
from tickwork.model import ScheduleRow
from tickwork.policies.overdue import decide_overdue
from tickwork.spec import PlanSpec, trigger_of
from tickwork.store.api_base import APIStore
from tickwork.store.ops import Alert, FinishedCursor, OperationsStore

__all__ = ["Monitor", "MonitorSettings"]

log = logging.getLogger("tickwork.monitor")


@dataclass(frozen=True, slots=True)
class MonitorSettings:
    interval: timedelta = timedelta(seconds=5)
    # Finished runs are looked at once they are this old: a transaction that read ``now``
    # and committed later is still seen (its finished_at is behind the cursor otherwise).
    finish_lag: timedelta = timedelta(seconds=5)
    # On start, runs finished this long ago are looked at again (alerts are deduplicated).
    lookback: timedelta = timedelta(hours=1)
    pause_after: int = 0
    retention: timedelta = timedelta(0)
    prune_interval: timedelta = timedelta(seconds=60)
    prune_batch: int = 500
    prune_batches: int = 10  # at most, per prune pass
    idempotency_keep: timedelta = timedelta(hours=24)  # how long an API retry is recognised
    page: int = 500
    # Finished runs per health transaction: short, so that a scheduler or a claim waiting
    # for SQLite's one write lock (the monitor has a thread of its own) waits little.
    record_page: int = 100
    # On its own thread (``periodic``) the monitor records one page at a time and waits
    # this long before the next, so the loop's thread runs in between: pages back to back
    # (1,000 finished runs every 5 s at 200 runs/s) held the GIL and the write lock for
    # ~150 ms and delayed the fires due meanwhile by up to 80 ms.
    page_pause: timedelta = timedelta(milliseconds=10)


def overdue_verdict(
    row: ScheduleRow, last_success: datetime | None, now: datetime
) -> tuple[datetime, datetime] | None:
    """The overdue rule for one stored schedule: fires count from its last success, or from
    when it was defined, changed or resumed (``updated_at``) when that is later; the grace
    is its ``overdue_after`` (else the default from its period) plus its jitter."""
    try:
        spec = PlanSpec.from_stored(row.spec)
        trigger = trigger_of(spec, row.anchor)
    except InvalidSpecError:
        return None  # the scheduler logs schedules it cannot evaluate
    start = max(t for t in (last_success, row.updated_at) if t is not None)
    verdict = decide_overdue(
        trigger, start=start, now=now, grace=spec.overdue_after, extra=spec.jitter
    )
    return None if verdict is None else (verdict.fire, verdict.since)


class Monitor:
    def __init__(
        self,
        store: OperationsStore,
        *,
        settings: MonitorSettings | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.store = store
        self.settings = settings or MonitorSettings()
        self.metrics = metrics
        self._cursor: FinishedCursor | None = None
        self._next_pass: datetime | None = None
        self._next_feed: datetime | None = None
        self._next_prune: datetime | None = None
        self._feeding = True  # until a pass finds no parked backfill run
        self._more_finished = False  # a paced record pass has pages left
        self._overdue_after: int | None = None
        self.overdue: set[str] = set()  # schedules found overdue (as this process last saw)

    def run_once(self, now: datetime) -> int:
        """One step at ``now``. Returns the backfill runs released (work for the worker).
        ``StoreUnavailableError`` propagates (the loop backs off); any other error is logged
        and the pass skipped: a monitor bug must not stop scheduling."""
        try:
            return self._step(now)
        except StoreUnavailableError:
            raise
        except Exception:
            log.exception("monitor pass failed", extra={"action": events.MONITOR_FAILED})
            self._next_pass = now + self.settings.interval
            return 0

    def feed(self, now: datetime) -> int:
        """Only the backfill feed (the loop's part when ``periodic`` runs on a thread of its
        own): release parked backfill runs while some wait, and once per interval."""
        try:
            return self._feed(now)
        except StoreUnavailableError:
            raise
        except Exception:
            log.exception("monitor pass failed", extra={"action": events.MONITOR_FAILED})
            return 0

    def periodic(self, now: datetime) -> datetime:
        """Only the passes due at ``now`` (health, alerts, overdue, retention); returns when
        the next is due. Errors as in ``run_once``."""
        try:
            self._periodic(now)
        except StoreUnavailableError:
            raise
        except Exception:
            log.exception("monitor pass failed", extra={"action": events.MONITOR_FAILED})
            self._next_pass = now + self.settings.interval
        return self.next_due(now)

    def next_due(self, now: datetime) -> datetime:
        """When ``periodic`` has work again, at the latest."""
        if self._more_finished:
            return now + self.settings.page_pause
        candidates = [self._next_pass or now]
        if self.settings.retention > timedelta(0):
            candidates.append(self._next_prune or now)
        return min(candidates)

    def _step(self, now: datetime) -> int:
        released = self._feed(now)
        self._periodic(now, paced=False)
        return released

    def _feed(self, now: datetime) -> int:
        due = self._next_feed is None or now >= self._next_feed
        if not (self._feeding or due):
            return 0
        self._next_feed = now + self.settings.interval
        release = self.store.release_backfill(now, self.settings.page)
        self._feeding = release.waiting
        released = len(release.released)
        if released:
            log.info(
                "backfill runs released",
                extra={"action": events.BACKFILL_RELEASED, "runs": released},
            )
        return released

    def _periodic(self, now: datetime, *, paced: bool = True) -> None:
        if self._more_finished:  # a paced pass goes on, a page at a time
            self._more_finished = self.record(now, pages=1)
            return
        if self._next_pass is None or now >= self._next_pass:
            self._next_pass = now + self.settings.interval
            self._more_finished = self.record(now, pages=1 if paced else 50)
            self.check(now)
        retention = self.settings.retention
        if retention > timedelta(0) and (self._next_prune is None or now >= self._next_prune):
            self._next_prune = now + self.settings.prune_interval
            self.prune(now)

    def record(self, now: datetime, *, pages: int = 50) -> bool:
        """Finished runs since the cursor, ``pages`` pages at most; whether more wait."""
        if self._cursor is None:
            self._cursor = (now - self.settings.lookback, 0)
        until = now - self.settings.finish_lag
        for _ in range(pages):
            report = self.store.record_finished(
                now,
                self._cursor,
                until,
                pause_after=self.settings.pause_after,
                limit=self.settings.record_page,
            )
            self._cursor = report.cursor or self._cursor
            self._alerted(report.alerts)
            for name in report.paused:
                log.warning(
                    "schedule %s paused after %s failures in a row",
                    name,
                    self.settings.pause_after,
                    extra={"action": events.SCHEDULE_PAUSED_ON_FAILURE, "schedule": name},
                )
            if report.scanned < self.settings.record_page:
                return False
        return True

    def check(self, now: datetime) -> None:
        """Overdue decisions for the next page of schedules."""
        report = self.store.check_overdue(
            now,
            self._overdue_after,
            self.settings.page,
            lambda row, last: overdue_verdict(row, last, now),
        )
        self._overdue_after = report.next_after
        self.overdue.difference_update(report.cleared)
        self.overdue.update(report.overdue)
        for name in report.cleared:
            log.info(
                "schedule %s is no longer overdue",
                name,
                extra={"action": events.SCHEDULE_RECOVERED, "schedule": name},
            )
        self._alerted(report.alerts)

    def prune(self, now: datetime) -> int:
        """Up to ``prune_batches`` short transactions of retention, while they come back
        full (7.2 million runs a day at the defaults, never one long lock)."""
        deleted = 0
        for _ in range(self.settings.prune_batches):
            n = self.store.prune_batch(now - self.settings.retention, self.settings.prune_batch)
            deleted += n
            if n < self.settings.prune_batch:
                break
        if isinstance(self.store, APIStore):  # answers kept for Idempotency-Key retries
            self.store.forget_idempotency_keys(
                now - self.settings.idempotency_keep, self.settings.prune_batch
            )
        if deleted:
            log.info(
                "pruned %s finished runs",
                deleted,
                extra={"action": events.RUNS_PRUNED, "runs": deleted},
            )
        return deleted

    def _alerted(self, alerts: tuple[Alert, ...]) -> None:
        for alert in alerts:
            log.warning(
                "alert %s for schedule %s",
                alert.kind,
                alert.schedule,
                extra={
                    "action": events.ALERT_CREATED,
                    "kind": alert.kind,
                    "schedule": alert.schedule,
                    "alert_id": alert.id,
                    "run_id": alert.run_id,
                    "fire": alert.fire.isoformat() if alert.fire else None,
                },
            )
            if self.metrics is not None:
                self.metrics.alerts.labels(kind=alert.kind, outcome="created").inc()
