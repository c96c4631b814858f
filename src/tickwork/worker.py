"""Worker: claim due runs, execute them with bounded concurrency, heartbeat, record results.

Every write after the claim is fenced on the lease (``Store.finish``/``extend_lease``): a
worker whose lease was reclaimed cannot overwrite the new attempt's result; it logs and drops
its own (DESIGN.md, Engine sketch).
"""

from __future__ import annotations

import functools
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tickwork import events
from tickwork.clock import Clock
from tickwork.context import TaskContext
from tickwork.daemon_pool import DaemonPool
from tickwork.errors import InvalidSpecError, StoreUnavailableError, TickworkError
from tickwork.executors import Execution, Executors
from tickwork.model import ClaimedRun, Outcome, Run, RunState
from tickwork.policies.retry import next_attempt_at
from tickwork.spec import ScheduleSpec
from tickwork.store.base import BatchFinishingStore, FinishItem, Store
from tickwork.tasks import TaskRegistry

__all__ = ["Worker"]

log = logging.getLogger("tickwork.worker")

_RETRYABLE = frozenset({RunState.failed, RunState.timed_out})
CLAIM_COALESCE = timedelta(milliseconds=10)


@dataclass
class _InFlight:
    claimed: ClaimedRun
    cancel: threading.Event = field(default_factory=threading.Event)
    lost: bool = False  # the lease was taken away (reclaimed, cancelled, released)
    finishing: bool = False  # the result is being written; heartbeats leave it alone
    lock: threading.Lock = field(default_factory=threading.Lock)


class Worker:
    """Runs claimed runs in a pool of ``concurrency`` threads."""

    def __init__(
        self,
        store: Store,
        tasks: TaskRegistry,
        executors: Executors,
        clock: Clock,
        *,
        worker_id: str,
        concurrency: int = 4,
        lease: timedelta = timedelta(seconds=30),
        on_idle_slot: Callable[[], None] | None = None,
        on_recorded: Callable[[Run, Outcome], None] | None = None,
    ) -> None:
        self.store, self.tasks, self.executors, self.clock = store, tasks, executors, clock
        self.worker_id = worker_id
        self.concurrency = concurrency
        self.lease = lease
        self._on_idle_slot = on_idle_slot
        self._on_recorded = on_recorded  # an attempt's outcome was written (metrics)
        self._pool = DaemonPool(concurrency, name="tickwork")
        self._inflight: dict[int, _InFlight] = {}
        self._changed = threading.Condition()
        self._stopping = False
        self._results: list[_Result] = []  # results waiting for the next commit
        self._results_guard = threading.Lock()
        self._commit_turn = threading.Lock()  # one thread writes a batch at a time
        self._finish_many = store.finish_many if isinstance(store, BatchFinishingStore) else None
        self._min_claim = max(1, concurrency // 4)
        self._last_claim: datetime | None = None
        self._backlog = False  # the last claim got as many runs as it had slots for
        self.claim_deferred_until: datetime | None = None  # a claim waits for more free slots

    # -- loop steps ----------------------------------------------------------------------

    def free_slots(self) -> int:
        with self._changed:
            return 0 if self._stopping else self.concurrency - len(self._inflight)

    def run_once(self, now: datetime) -> int:
        """Claim as many due runs as there are free slots and start them. Returns how many."""
        with self._changed:
            if self._stopping:
                return 0
            in_flight = len(self._inflight)
        free = max(self.concurrency - in_flight, 0)
        # Under a backlog (the last claim filled every slot it asked for) slots free up one
        # by one as runs finish; a claim costs about the same for one run as for many, so a
        # few free slots wait up to CLAIM_COALESCE for more to join them. Without a backlog
        # a due run is claimed at once.
        last = self._last_claim
        if (
            0 < free < self._min_claim
            and in_flight
            and self._backlog
            and last is not None
            and now < last + CLAIM_COALESCE
        ):
            self.claim_deferred_until = last + CLAIM_COALESCE
            return 0
        self.claim_deferred_until = None
        # With every slot busy the claim still runs (limit 0): overlap "skip" decisions are
        # taken when a fire comes due, not when a slot frees up.
        claimed = self.store.claim(self.worker_id, now, self.lease, free)
        if free:
            self._last_claim = now
            self._backlog = len(claimed) == free
        for item in claimed:
            flight = _InFlight(item)
            with self._changed:
                self._inflight[item.run.id] = flight
            self._pool.submit(functools.partial(self._execute, flight))
        return len(claimed)

    def heartbeat_once(self, now: datetime) -> None:
        """Extend the lease of every run in flight; stop those whose lease was taken away."""
        with self._changed:
            flights = list(self._inflight.values())
        for flight in flights:
            with flight.lock:
                if flight.lost or flight.finishing:
                    continue
                run_id = flight.claimed.run.id
                if not self.store.extend_lease(run_id, self.worker_id, now, self.lease):
                    flight.lost = True
                    flight.cancel.set()
                    log.warning(
                        "lease lost; stopping the attempt",
                        extra=_extra(flight.claimed, action=events.RUN_FENCED_OUT),
                    )

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        """Whether ``stop`` was called: no new claims."""
        with self._changed:
            return self._stopping

    def in_flight(self) -> int:
        with self._changed:
            return len(self._inflight)

    def wait_idle(self, timeout: float) -> bool:
        """Block until no run is in flight (True) or ``timeout`` real seconds passed."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._inflight, timeout)

    def stop(self, grace: float) -> None:
        """Graceful stop: no new claims; running tasks get ``grace`` seconds, then their
        leases are released for another worker and their results dropped."""
        with self._changed:
            self._stopping = True
        log.info(
            "worker stopping",
            extra={
                "action": events.WORKER_STOPPING,
                "in_flight": self.in_flight(),
                "grace_s": grace,
            },
        )
        if not self.wait_idle(grace):
            with self._changed:
                flights = list(self._inflight.values())
            now = self.clock.now()
            for flight in flights:
                flight.lost = True
                flight.cancel.set()
                try:
                    self.store.release(flight.claimed.run.id, self.worker_id, now)
                except TickworkError as err:
                    log.error("could not release run %s: %s", flight.claimed.run.id, err)
                    continue
                log.warning(
                    "run given back after the stop grace; its task may still be running "
                    "in this process until it exits",
                    extra=_extra(flight.claimed, action=events.RUN_RELEASED, grace_s=grace),
                )
        self._pool.shutdown()

    # -- one attempt ---------------------------------------------------------------------

    def _execute(self, flight: _InFlight) -> None:
        claimed = flight.claimed
        try:
            outcome = self._attempt(flight)
            self._record(flight, outcome)
        except Exception:  # never kill a pool thread; the lease expiry recovers the run
            log.exception(
                "worker failed to record run %s",
                claimed.run.id,
                extra=_extra(claimed, action="worker_error"),
            )
        finally:
            with self._changed:
                self._inflight.pop(claimed.run.id, None)
                self._changed.notify_all()
            if self._on_idle_slot is not None:
                self._on_idle_slot()

    def _attempt(self, flight: _InFlight) -> Outcome:
        run = flight.claimed.run
        try:
            spec = ScheduleSpec.from_stored(flight.claimed.spec)
            execution = self._execution(flight.claimed, spec)
        except InvalidSpecError as err:
            return Outcome(RunState.failed, error=str(err))
        context = TaskContext(
            run_id=run.id,
            schedule=run.schedule,
            attempt=run.attempt,
            nominal_fire=run.nominal_fire,
            idempotency_key=run.idempotency_key,
            logger=logging.LoggerAdapter(
                logging.getLogger("tickwork.task"), _extra(flight.claimed)
            ),
            cancelled=flight.cancel,
        )
        if log.isEnabledFor(logging.INFO):
            lag = (run.started_at - run.nominal_fire).total_seconds() if run.started_at else None
            log.info(
                "run started",
                extra=_extra(flight.claimed, action=events.RUN_CLAIMED, lag_s=lag),
            )
        # Inline: a sync task without a timeout runs in this slot thread (a daemon thread,
        # so a task ignoring a cancel keeps its slot but never holds a stopping process up).
        return self.executors.execute(execution, context, flight.cancel, inline=True)

    def _execution(self, claimed: ClaimedRun, spec: ScheduleSpec) -> Execution:
        run = claimed.run
        target = None
        if spec.task is not None and not spec.isolated:
            target = self.tasks.resolve(spec.task)
        elif spec.task is not None:
            self.tasks.resolve(spec.task)  # fail early and clearly when it cannot be imported
        return Execution(
            run_id=run.id,
            schedule=run.schedule,
            attempt=run.attempt,
            nominal_fire=run.nominal_fire,
            idempotency_key=run.idempotency_key,
            target=target,
            task_ref=spec.task,
            command=spec.command,
            stdin=spec.stdin,
            env=dict(spec.env),
            shell=spec.shell,
            cwd=spec.cwd,
            timeout=spec.timeout,
            isolated=spec.isolated,
        )

    def _record(self, flight: _InFlight, outcome: Outcome) -> None:
        with flight.lock:
            flight.finishing = True
        claimed = flight.claimed
        run = claimed.run
        if flight.lost:
            log.warning(
                "result dropped: the lease was released, reclaimed or cancelled",
                extra=_extra(claimed, action=events.RUN_FENCED_OUT, outcome=outcome.state),
            )
            return
        retry_at = None
        if outcome.state in _RETRYABLE:
            spec = ScheduleSpec.from_stored(claimed.spec)
            if run.attempt < run.max_attempts:
                retry_at = next_attempt_at(
                    self.clock.now(), run.attempt, spec.retry, run.idempotency_key
                )
        result = _Result(FinishItem(run.id, outcome, retry_at))
        self._commit(result)
        if result.error is not None:
            raise result.error
        if not result.written:
            log.warning(
                "result dropped: the lease was released, reclaimed or cancelled",
                extra=_extra(claimed, action=events.RUN_FENCED_OUT, outcome=outcome.state),
            )
            return
        if self._on_recorded is not None:
            self._on_recorded(run, outcome)
        action = events.RUN_RETRY_SCHEDULED if retry_at else f"run_{outcome.state.value}"
        level = logging.INFO if outcome.state is RunState.succeeded else logging.WARNING
        if not log.isEnabledFor(level):
            return
        log.log(
            level,
            "run %s",
            "retry scheduled" if retry_at else outcome.state.value,
            extra=_extra(
                claimed,
                action=action,
                state=outcome.state,
                duration_s=outcome.duration.total_seconds() if outcome.duration else None,
                retry_at=retry_at.isoformat() if retry_at else None,
                error=outcome.error,
            ),
        )

    def _commit(self, result: _Result) -> None:
        """Write ``result`` together with every other result waiting (group commit): the
        thread that gets the turn writes all of them in one transaction, the others find
        theirs written when their turn comes. One commit per batch instead of per run."""
        with self._results_guard:
            self._results.append(result)
        with self._commit_turn:
            with self._results_guard:
                batch, self._results = self._results, []
            if not batch:
                return  # written by the thread before us
            try:
                written = self._finish(batch)
            except Exception as err:
                for each in batch:
                    each.error = err
                return
            for each, ok in zip(batch, written, strict=True):
                each.written = ok

    def _finish(self, batch: list[_Result]) -> list[bool]:
        """``Store.finish_many`` (or ``finish`` per result), tried again while the database
        is unavailable (a restart, a lost connection) for as long as one lease: the writes
        are fenced, so a run reclaimed meanwhile refuses its result, and a result kept is an
        attempt not repeated."""
        items = [result.item for result in batch]
        now = self.clock.now()
        give_up = time.monotonic() + self.lease.total_seconds()
        delay = 0.25
        for tries in itertools.count(1):
            try:
                if self._finish_many is not None:
                    return self._finish_many(self.worker_id, now, items)
                return [
                    self.store.finish(i.run_id, self.worker_id, now, i.outcome, retry_at=i.retry_at)
                    for i in items
                ]
            except StoreUnavailableError as err:
                if time.monotonic() + delay > give_up:
                    raise
                if tries == 1:
                    log.warning(
                        "could not record %d outcome(s), trying again: %s",
                        len(items),
                        err,
                        extra={"action": events.STORE_UNAVAILABLE, "runs": len(items)},
                    )
                threading.Event().wait(delay)  # a pause; nothing sets it
                delay = min(delay * 2, 5.0)
        raise AssertionError("unreachable")  # pragma: no cover


@dataclass(slots=True)
class _Result:
    """One attempt's result on its way to the store; ``written``/``error`` once it was."""

    item: FinishItem
    written: bool | None = None
    error: Exception | None = None


def _extra(claimed: ClaimedRun, **more: object) -> dict[str, object]:
    run = claimed.run
    return {
        "run_id": run.id,
        "schedule": run.schedule,
        "attempt": run.attempt,
        "nominal_fire": run.nominal_fire.isoformat(),
        **more,
    }
