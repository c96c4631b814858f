"""Recording attempts' outcomes: ``finish``, ``finish_many`` and ``finish_and_claim`` (a
``BatchFinishingStore``).

A worker that runs many short tasks finishes many runs a second; one transaction per result
makes the database's commit the limit (SQLite: one writer; PostgreSQL: a round trip and a
WAL flush per commit). ``finish_many`` records a batch in one transaction: one fenced
``UPDATE … RETURNING`` per group of identical outcomes (usually one: "succeeded") and one
multi-row insert of events, each result still fenced on its own lease (DESIGN.md, engine
sketch), so a batch in which some leases were lost writes the others and says which.
``finish_and_claim`` adds the worker's next claim to that transaction: one write per worker
step instead of one for the results and one for the claim.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, Text, bindparam, func, update
from sqlalchemy.engine import Connection

from tickwork import events
from tickwork.errors import InvalidSpecError
from tickwork.model import ClaimedRun, Outcome, RunState
from tickwork.store.base import FinishItem
from tickwork.store.schema import UTCDateTime, runs
from tickwork.store.sql import (
    ATTEMPT_ERROR_LIMIT,
    OUTCOME_EVENTS,
    SQLStore,
    _aware,
    _chunks,
    _EventLog,
    _positive,
    _retried,
)

__all__ = ["FinishingSQLStore"]


class FinishingSQLStore(SQLStore):
    """``SQLStore`` with the outcome writes; the stores inherit this class."""

    def finish(
        self,
        run_id: int,
        worker: str,
        now: datetime,
        outcome: Outcome,
        *,
        retry_at: datetime | None = None,
    ) -> bool:
        """Record an attempt's outcome, fenced on (running, ``lease_owner=worker``).

        With ``retry_at``: ``retrying``, due then, lease cleared, error/exit code/output kept,
        event ``run_retry_scheduled``. Without: the outcome's state (succeeded, failed,
        timed_out or cancelled), ``finished_at=now``, its event. False (nothing written) when
        the fence fails; ``InvalidSpecError`` for another outcome state.
        """
        return self.finish_many(worker, now, [FinishItem(run_id, outcome, retry_at)])[0]

    @_retried
    def finish_many(self, worker: str, now: datetime, items: Sequence[FinishItem]) -> list[bool]:
        """``finish`` for each item, in one transaction: for each, whether it was written
        (False: its fence failed, nothing written for it). Bad input (an outcome state
        ``finish`` refuses, naive instants) raises before anything is written."""
        _aware(now, "now")
        prepared = _prepare(items, now)
        with self._transaction("record runs' outcomes", write=True) as conn:
            written = self._finish_in(conn, worker, now, items, prepared)
        return [item.run_id in written for item in items]

    def finish_and_claim(
        self,
        worker: str,
        now: datetime,
        items: Sequence[FinishItem],
        lease: timedelta,
        limit: int,
    ) -> tuple[list[bool], list[ClaimedRun]]:
        """``finish_many(worker, now, items)`` then ``claim(worker, now, lease, limit)`` in
        one write transaction (see ``BatchFinishingStore``)."""
        if not items:
            return [], self.claim(worker, now, lease, limit)
        return self._finish_and_claim(worker, now, items, lease, limit)

    @_retried
    def _finish_and_claim(
        self,
        worker: str,
        now: datetime,
        items: Sequence[FinishItem],
        lease: timedelta,
        limit: int,
    ) -> tuple[list[bool], list[ClaimedRun]]:
        _aware(now, "now")
        _positive(lease, "lease")
        prepared = _prepare(items, now)
        with self._transaction("record runs' outcomes and claim runs", write=True) as conn:
            written = self._finish_in(conn, worker, now, items, prepared)
            claimed = self._claim_in(conn, worker, now, lease, max(limit, 0))
        return [item.run_id in written for item in items], claimed

    def _finish_in(
        self,
        conn: Connection,
        worker: str,
        now: datetime,
        items: Sequence[FinishItem],
        prepared: _Prepared,
    ) -> dict[int, int]:
        """The writes of ``finish_many`` in the caller's transaction: run id -> attempt of
        each result written."""
        groups, details = prepared
        written: dict[int, int] = {}  # run id -> attempt
        statement, logs_events = self._finish_statement()
        for values, ids in groups.values():
            for chunk in _chunks(ids):
                params = {**values, "ids": list(chunk), "worker": worker}
                if logs_events:  # the statement writes the events of the rows it updates
                    event = details[chunk[0]][0]  # one state, so one event, per group
                    rows = [{"run_id": i, "detail": details[i][2]} for i in chunk]
                    params |= {"event": event, "event_at": now, "details": rows}
                for run_id, attempt in conn.execute(statement, params):
                    written[int(run_id)] = int(attempt)
        log = _EventLog(now)
        for item in items:
            if item.run_id in written and not logs_events:
                event, state, detail = details[item.run_id]
                log.add(item.run_id, event, state, written[item.run_id], detail)
        log.write(conn)
        return written

    def _finish_statement(self) -> tuple[Any, bool]:
        """The statement that records a group of results (bound as ``_FINISH`` is; returns
        (id, attempt) of the rows written), and whether it also inserts their events
        (then also bound: ``event``, ``event_at`` and ``details``, a list of
        ``{"run_id", "detail"}`` sent as one JSON array)."""
        return _FINISH, False


# Results grouped by the column values they write (values, run ids), and each run's event,
# state and event detail.
_Prepared = tuple[
    dict[tuple[Any, ...], tuple[dict[str, Any], list[int]]],
    dict[int, tuple[str, RunState, dict[str, Any]]],
]


def _prepare(items: Sequence[FinishItem], now: datetime) -> _Prepared:
    """Check and group ``items`` before anything is written (bad input raises here)."""
    groups: dict[tuple[Any, ...], tuple[dict[str, Any], list[int]]] = {}
    details: dict[int, tuple[str, RunState, dict[str, Any]]] = {}
    for item in items:
        values, event, state, detail = _finish_values(item, now)
        key = tuple(sorted(values.items()))
        groups.setdefault(key, (values, []))[1].append(item.run_id)
        details[item.run_id] = (event, state, detail)
    return groups, details


def _finish_values(
    item: FinishItem, now: datetime
) -> tuple[dict[str, Any], str, RunState, dict[str, Any]]:
    """The run columns, event, state and event detail of one result."""
    outcome, retry_at = item.outcome, item.retry_at
    if outcome.state not in OUTCOME_EVENTS:
        raise InvalidSpecError(
            "outcome.state", outcome.state.value, "succeeded, failed, timed_out or cancelled"
        )
    values: dict[str, Any] = {
        "exit_code": outcome.exit_code,
        "error": outcome.error,
        "output": outcome.output,
        "due_at": None,  # NULL: unchanged
        "finished_at": None,  # NULL: unchanged
    }
    detail: dict[str, Any] = {"outcome": outcome.state.value}
    if outcome.duration is not None:
        detail["duration_s"] = outcome.duration.total_seconds()
    if outcome.exit_code is not None:
        detail["exit_code"] = outcome.exit_code
    if outcome.error:
        # The run row keeps the last attempt's error; each attempt's stays in its event.
        detail["error"] = outcome.error[-ATTEMPT_ERROR_LIMIT:]
    if retry_at is not None:
        _aware(retry_at, "retry_at")
        state, event = RunState.retrying, events.RUN_RETRY_SCHEDULED
        values |= {"state": state.value, "due_at": retry_at}  # finished_at stays NULL
        detail["retry_at"] = retry_at.isoformat()
    else:
        state, event = outcome.state, OUTCOME_EVENTS[outcome.state]
        values |= {"state": state.value, "finished_at": now}
    return values, event, state, detail


# One statement for every group of results (built once): each row is written only while
# it is running under the worker's lease (the fence of ``finish``); due_at and finished_at
# are given only by the results that set them (a retry's due time, a final result's end).
_FINISH = (
    update(runs)
    .where(
        runs.c.id.in_(bindparam("ids", expanding=True)),
        runs.c.state == RunState.running.value,
        runs.c.lease_owner == bindparam("worker"),
    )
    .values(
        state=bindparam("state"),
        lease_owner=None,
        lease_expires_at=None,
        exit_code=bindparam("exit_code", type_=Integer()),
        error=bindparam("error", type_=Text()),
        output=bindparam("output", type_=Text()),
        due_at=func.coalesce(bindparam("due_at", type_=UTCDateTime()), runs.c.due_at),
        finished_at=func.coalesce(
            bindparam("finished_at", type_=UTCDateTime()), runs.c.finished_at
        ),
    )
    .returning(runs.c.id, runs.c.attempt)
)
