"""Worker: claim due runs, execute them with bounded concurrency, heartbeat, record results.

Every write after the claim is fenced on the lease (``Store.finish``/``extend_lease``): a
worker whose lease was reclaimed cannot overwrite the new attempt's result; it logs and drops
its own (DESIGN.md, Engine sketch).

A slot thread that ran an attempt hands its result over and takes the next run; the worker's
step (``run_once``, in the engine loop) writes the results handed over since the last step
and claims runs for the free slots in one transaction (``finish_and_claim``), so a busy
worker makes one write per step, not one per result and one per claim. A run counts as in
flight until its result is written; ``wait_idle`` and ``stop`` write what is handed over
themselves, so a worker stepped by hand (tests, ``run_until_idle``) needs no loop.
"""

from __future__ import annotations

import functools
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
from tickwork.spec import AttemptSpec, ScheduleSpec
from tickwork.store.base import BatchFinishingStore, FinishItem, Store
from tickwork.tasks import TaskRegistry

__all__ = ["Worker", "heartbeat_interval"]

log = logging.getLogger("tickwork.worker")

_RETRYABLE = frozenset({RunState.failed, RunState.timed_out})
CLAIM_COALESCE = timedelta(milliseconds=10)
# With every slot busy a step only takes skip decisions (a claim with no room); it does so
# when runs were announced (``runs_announced``: this process enqueued, triggered, or was
# notified) and otherwise at most this often, as a poll would find them.
SKIP_RECHECK = timedelta(seconds=1)


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
        # How often leases are extended while a stop waits for running tasks (the engine's
        # loop, which extends them otherwise, has ended by then).
        self.heartbeat = heartbeat_interval(lease)
        self._on_idle_slot = on_idle_slot
        self._on_recorded = on_recorded  # an attempt's outcome was written (metrics)
        self._pool = DaemonPool(concurrency, name="tickwork")
        self._inflight: dict[int, _InFlight] = {}  # claimed, until the result is written
        self._running = 0  # of those, attempts still executing (the slots they hold)
        self._handed: list[_Result] = []  # results waiting for the next write
        self._changed = threading.Condition()  # guards the three above and _stopping
        self._stopping = False
        self._write_turn = threading.Lock()  # one thread writes results at a time
        self._batching = store if isinstance(store, BatchFinishingStore) else None
        self._min_claim = max(1, concurrency // 4)
        self._last_claim: datetime | None = None
        self._backlog = False  # the last claim got as many runs as it had slots for
        self._decided_at: datetime | None = None  # the last claim (its skip decisions)
        self._announced = True  # runs may have come due since that claim
        self.claim_deferred_until: datetime | None = None  # a claim waits for more free slots

    # -- loop steps ----------------------------------------------------------------------

    def free_slots(self) -> int:
        with self._changed:
            return 0 if self._stopping else self.concurrency - self._running

    def run_once(self, now: datetime) -> int:
        """Write the results handed over and claim as many due runs as there are free slots,
        in one transaction, and start them. Returns how many started."""
        with self._changed:
            stopping, running = self._stopping, self._running
        if stopping:
            self._write_handed(now)
            return 0
        free = max(self.concurrency - running, 0)
        # Under a backlog (the last claim filled every slot it asked for) slots free up one
        # by one as runs finish; a claim costs about the same for one run as for many, so a
        # few free slots wait up to CLAIM_COALESCE for more to join them (their results
        # wait with them). Without a backlog a due run is claimed at once.
        last = self._last_claim
        if (
            0 < free < self._min_claim
            and running
            and self._backlog
            and last is not None
            and now < last + CLAIM_COALESCE
        ):
            self.claim_deferred_until = last + CLAIM_COALESCE
            return 0
        self.claim_deferred_until = None
        # With every slot busy the claim still runs (limit 0): overlap "skip" decisions are
        # taken when a fire comes due, not when a slot frees up. Not again for nothing: a
        # claim that just filled the slots took them, and a pass with no room reads every
        # due schedule that could skip (the backlog, when it is one of many schedules).
        decided = self._decided_at
        if (
            free == 0
            and not self._announced
            and decided is not None
            and decided <= now < decided + SKIP_RECHECK
        ):
            return 0
        self._announced = False
        claimed = self._write_handed(now, claim=free)
        self._decided_at = now
        if free:
            self._last_claim = now
            self._backlog = len(claimed) == free
        for item in claimed:
            flight = _InFlight(item)
            with self._changed:
                self._inflight[item.run.id] = flight
                self._running += 1
            self._pool.submit(functools.partial(self._execute, flight))
        return len(claimed)

    def runs_announced(self) -> None:
        """Runs may have come due (this process enqueued or triggered some, or the store
        announced new ones): the next step takes skip decisions even with no free slot."""
        self._announced = True

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

    def wait_idle(self, timeout: float, *, heartbeat: bool = False) -> bool:
        """Block until no run is in flight (True) or ``timeout`` real seconds passed. The
        results handed over meanwhile are written here (no loop needs to be running); with
        ``heartbeat``, the leases of the runs still executing are extended every
        ``self.heartbeat`` too, as the loop would (a stop's grace can outlast a lease)."""
        deadline = time.monotonic() + timeout
        next_beat = time.monotonic() + self.heartbeat.total_seconds()
        delay = 0.25
        while True:
            if heartbeat and time.monotonic() >= next_beat:
                self._heartbeat_while_stopping()
                next_beat = time.monotonic() + self.heartbeat.total_seconds()
            try:
                self._write_handed(self.clock.now())
            except StoreUnavailableError as err:  # the database is away: try again
                log.warning(
                    "could not record outcomes, trying again: %s",
                    err,
                    extra={"action": events.STORE_UNAVAILABLE},
                )
                threading.Event().wait(min(delay, max(deadline - time.monotonic(), 0)))
                delay = min(delay * 2, 5.0)
            with self._changed:
                if not self._inflight:
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                if heartbeat:
                    remaining = min(remaining, max(next_beat - time.monotonic(), 0.0))
                self._changed.wait_for(lambda: self._handed or not self._inflight, remaining)

    def _heartbeat_while_stopping(self) -> None:
        """``heartbeat_once`` during a stop; a database that is away is logged and tried
        again at the next beat (the leases may then expire: the reaper's to take back)."""
        try:
            self.heartbeat_once(self.clock.now())
        except StoreUnavailableError as err:
            log.warning(
                "could not extend leases while stopping, trying again: %s",
                err,
                extra={"action": events.STORE_UNAVAILABLE},
            )

    def stop(self, grace: float) -> None:
        """Graceful stop: no new claims; running tasks get ``grace`` seconds, their leases
        extended meanwhile, then their leases are released for another worker and their
        results dropped."""
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
        if not self.wait_idle(grace, heartbeat=True):
            with self._changed:  # still executing (a result handed over stays ours)
                flights = [f for f in self._inflight.values() if not f.finishing]
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
        result: _Result | None = None
        try:
            result = self._result(flight, self._attempt(flight))
        except Exception:  # never kill a pool thread; the lease expiry recovers the run
            log.exception(
                "worker failed to record run %s",
                claimed.run.id,
                extra=_extra(claimed, action="worker_error"),
            )
        finally:
            with self._changed:  # the slot is free; the run stays in flight until written
                self._running -= 1
                if result is None:
                    self._inflight.pop(claimed.run.id, None)
                else:
                    self._handed.append(result)
                self._changed.notify_all()
            if self._on_idle_slot is not None:
                self._on_idle_slot()

    def _attempt(self, flight: _InFlight) -> Outcome:
        run = flight.claimed.run
        try:
            spec = AttemptSpec.from_stored(flight.claimed.spec)
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

    def _execution(self, claimed: ClaimedRun, spec: AttemptSpec) -> Execution:
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

    def _result(self, flight: _InFlight, outcome: Outcome) -> _Result | None:
        """The result to write for this attempt, or None (logged) when its lease is gone."""
        with flight.lock:
            flight.finishing = True
        claimed = flight.claimed
        run = claimed.run
        if flight.lost:
            _log_dropped(claimed, outcome)
            return None
        retry_at = None
        if outcome.state in _RETRYABLE:
            spec = ScheduleSpec.from_stored(claimed.spec)
            if run.attempt < run.max_attempts:
                retry_at = next_attempt_at(
                    self.clock.now(), run.attempt, spec.retry, run.idempotency_key
                )
        return _Result(flight, FinishItem(run.id, outcome, retry_at))

    def _write_handed(self, now: datetime, claim: int | None = None) -> list[ClaimedRun]:
        """Write the results handed over and, with ``claim``, claim up to that many runs, in
        one transaction (``finish_and_claim``). A database that is unavailable raises
        ``StoreUnavailableError`` and keeps the results for the next write (the writes are
        fenced: a run reclaimed meanwhile refuses its result)."""
        with self._write_turn:
            with self._changed:
                batch, self._handed = self._handed, []
            if not batch and claim is None:
                return []
            store = self._batching
            if store is None or claim is None or not batch:
                self._write_results(now, batch)
                return [] if claim is None else self._claim(now, claim)
            try:
                written, claimed = store.finish_and_claim(
                    self.worker_id, now, [result.item for result in batch], self.lease, claim
                )
            except StoreUnavailableError:
                self._keep(batch)
                raise
            except Exception:
                # Neither part was written. A result the store refuses must not stop the
                # claims: the results go on their own (dropped, logged, if refused again).
                self._write_results(now, batch)
                return self._claim(now, claim)
            self._recorded(batch, written)
            return claimed

    def _claim(self, now: datetime, limit: int) -> list[ClaimedRun]:
        return self.store.claim(self.worker_id, now, self.lease, limit)

    def _write_results(self, now: datetime, batch: list[_Result]) -> None:
        """Write ``batch`` in a transaction of its own (``finish_many``, or ``finish`` each
        for a store without it). Unavailable: kept, raised. Refused otherwise: dropped and
        logged (the lease expiry recovers the runs)."""
        if not batch:
            return
        items = [result.item for result in batch]
        try:
            if self._batching is not None:
                written = self._batching.finish_many(self.worker_id, now, items)
            else:
                written = [
                    self.store.finish(i.run_id, self.worker_id, now, i.outcome, retry_at=i.retry_at)
                    for i in items
                ]
        except StoreUnavailableError:
            self._keep(batch)
            raise
        except Exception:
            log.exception(
                "worker failed to record %d run(s)",
                len(batch),
                extra={"action": "worker_error", "runs": len(batch)},
            )
            self._recorded(batch, [False] * len(batch), logged=True)
            return
        self._recorded(batch, written)

    def _keep(self, batch: list[_Result]) -> None:
        """Results not written (the database is unavailable): first in line for the next
        write."""
        with self._changed:
            self._handed[:0] = batch

    def _recorded(self, batch: list[_Result], written: list[bool], *, logged: bool = False) -> None:
        """After a write: log each result (or that it was dropped), count it, and end its
        run's time in flight."""
        for result, ok in zip(batch, written, strict=True):
            claimed, outcome = result.flight.claimed, result.item.outcome
            if not ok:
                if not logged:
                    _log_dropped(claimed, outcome)
                continue
            if self._on_recorded is not None:
                self._on_recorded(claimed.run, outcome)
            _log_outcome(claimed, outcome, result.item.retry_at)
        with self._changed:
            for result in batch:
                self._inflight.pop(result.item.run_id, None)
            self._changed.notify_all()


def heartbeat_interval(lease: timedelta) -> timedelta:
    """How often the leases of running runs are extended: every third of the lease (at
    most 5 s, at least 0.1 s), so two beats can be missed before one expires. It is also
    how soon a cancelled attempt hears of it."""
    return max(min(lease / 3, timedelta(seconds=5)), timedelta(milliseconds=100))


@dataclass(frozen=True, slots=True)
class _Result:
    """One attempt's result on its way to the store."""

    flight: _InFlight
    item: FinishItem


def _log_dropped(claimed: ClaimedRun, outcome: Outcome) -> None:
    log.warning(
        "result dropped: the lease was released, reclaimed or cancelled",
        extra=_extra(claimed, action=events.RUN_FENCED_OUT, outcome=outcome.state),
    )


def _log_outcome(claimed: ClaimedRun, outcome: Outcome, retry_at: datetime | None) -> None:
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


def _extra(claimed: ClaimedRun, **more: object) -> dict[str, object]:
    run = claimed.run
    return {
        "run_id": run.id,
        "schedule": run.schedule,
        "attempt": run.attempt,
        "nominal_fire": run.nominal_fire.isoformat(),
        **more,
    }
