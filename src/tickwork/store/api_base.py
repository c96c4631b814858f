"""What the HTTP API needs from a store beyond ``Store``: tokens, idempotency keys, schedules
owned by the API, cursor pages, cancel and retry.

A capability like ``ListeningStore``: both SQL stores have it (``store/sql_api.py``), and the
contract suite (``tests/contract/test_api_store.py``) runs each method on SQLite and
PostgreSQL. Each method is one transaction; ``now`` is always passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from tickwork.model import Run, ScheduleRow
from tickwork.store.base import ScheduleUpsert

__all__ = [
    "APIStore",
    "IdempotentOutcome",
    "KeyedSchedulePage",
    "ScheduleChange",
    "SchedulePage",
    "StoredResponse",
    "TokenRow",
    "TokenStore",
]


@dataclass(frozen=True, slots=True)
class TokenRow:
    """An API token as stored: never the token itself, only its sha256."""

    id: int
    name: str
    token_hash: str
    scopes: tuple[str, ...]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """The first answer to a request with an ``Idempotency-Key``, replayed to its retries."""

    request_hash: str
    status_code: int
    body: Any


@dataclass(frozen=True, slots=True)
class IdempotentOutcome:
    """What ``trigger_idempotent`` did: ``run`` is the new run, or None when the key was
    already used (``stored`` is then the first answer, whatever its request hash)."""

    run: Run | None
    stored: StoredResponse | None


@dataclass(frozen=True, slots=True)
class ScheduleChange:
    """One change to a schedule owned by the API: create (``expect_version`` None, ``spec``
    given), update (``spec`` given, the row must exist, be owned by the API and, with
    ``expect_version``, have that version) or delete (``spec`` None: retired)."""

    name: str
    upsert: ScheduleUpsert | None
    expect_version: int | None = None
    create: bool = False


@dataclass(frozen=True, slots=True)
class SchedulePage:
    rows: tuple[ScheduleRow, ...]
    more: bool  # another page follows the last row


@dataclass(frozen=True, slots=True)
class KeyedSchedulePage:
    """A page of ``schedule_page`` with each row's key: the row's every stored column as the
    database gives it (text, numbers), so two equal keys are two equal rows, whatever
    changed and whoever changed it. A caller that keeps what it made of a row by its key
    (the API keeps each row's JSON) stays exact without knowing which writes touch which
    column. ``rows`` is None when the caller already knew every key: only keys were read,
    which costs a fraction of reading and converting the rows."""

    keys: tuple[Hashable, ...]
    names: tuple[str, ...]  # of the rows, in page order
    rows: tuple[ScheduleRow, ...] | None  # in page order, with ``keys``; None: all known
    more: bool  # another page follows the last row


@runtime_checkable
class TokenStore(Protocol):
    """API tokens (``tickwork.tokens`` hashes and checks them; this stores them)."""

    def add_token(
        self, name: str, token_hash: str, scopes: Sequence[str], now: datetime
    ) -> TokenRow:
        """Store a new token. A name held by a token that is not revoked raises
        ``InvalidSpecError`` (field ``name``) and changes nothing; a revoked token's name is
        reused (its row is replaced)."""
        ...

    def token_by_hash(self, token_hash: str) -> TokenRow | None:
        """The token with that sha256 (revoked included: the caller checks), or None."""
        ...

    def touch_token(self, token_id: int, now: datetime, *, unless_after: datetime) -> None:
        """Set ``last_used_at = now`` unless it is already later than ``unless_after`` (so
        a busy token costs one write a minute, not one per request)."""
        ...

    def list_tokens(self) -> list[TokenRow]:
        """Every token, revoked included, ordered by name."""
        ...

    def revoke_token(self, name: str, now: datetime) -> TokenRow | None:
        """Mark the token revoked (``revoked_at = now``; an already revoked one keeps its
        first instant). None (nothing written) when no token has that name."""
        ...


@runtime_checkable
class APIStore(Protocol):
    """Durable state of the HTTP API besides tokens."""

    # -- schedules owned by the API ------------------------------------------------------

    def change_api_schedules(
        self, changes: Sequence[ScheduleChange], now: datetime, *, applied_by: str = "api"
    ) -> list[ScheduleRow | None]:
        """Apply every change in one transaction, or none. A create whose name exists (even
        retired under another source) raises ``ScheduleConflictError``; an update or delete
        of a missing or retired name raises ``ScheduleNotFoundError``; of a schedule owned by
        config or code ``ScheduleConflictError``; an ``expect_version`` that differs
        ``ScheduleConflictError``. Returns the rows after the change (None for a delete).
        Records the change as a schedule revision (source ``api``, ``applied_by``) in the
        same transaction. Never touches runs."""
        ...

    def schedule_page(
        self,
        *,
        after: str | None,
        limit: int,
        source: str | None = None,
        paused: bool | None = None,
        include_retired: bool = False,
        prefix: str | None = None,
    ) -> SchedulePage:
        """Schedules ordered by name, those after ``after`` (keyset cursor), at most
        ``limit``, filtered."""
        ...

    def schedule_page_keyed(
        self,
        *,
        after: str | None,
        limit: int,
        source: str | None = None,
        paused: bool | None = None,
        include_retired: bool = False,
        prefix: str | None = None,
        known: Container[Hashable] = (),
    ) -> KeyedSchedulePage:
        """The page ``schedule_page`` gives, as keys (see ``KeyedSchedulePage``); its rows
        too unless every key is in ``known``. Rows are read with their keys, in one
        statement, so each key is that of the row beside it even when the row changed
        since the keys were first read."""
        ...

    # -- runs ----------------------------------------------------------------------------

    def trigger_idempotent(
        self,
        name: str,
        now: datetime,
        *,
        principal: str,
        route: str,
        key: str,
        request_hash: str,
        respond: Callable[[Run], tuple[int, Any]],
    ) -> IdempotentOutcome:
        """Trigger ``name`` once per (principal, route, key): the key row is inserted first
        (``ON CONFLICT DO NOTHING``, in the same transaction as the run), so of two
        simultaneous requests with one key one creates the run and the other waits for its
        commit and finds the key. ``respond(run) -> (status, body)`` makes the stored
        answer. Raises ``ScheduleNotFoundError`` (nothing written) for an unknown name."""
        ...

    def stored_response(self, principal: str, route: str, key: str) -> StoredResponse | None:
        """The answer stored for (principal, route, key), or None."""
        ...

    def remember_response(
        self, principal: str, route: str, key: str, response: StoredResponse, now: datetime
    ) -> StoredResponse:
        """Store the first answer to a key (insert, ``ON CONFLICT DO NOTHING``) and return
        the one stored: this one, or another request's that got there first."""
        ...

    def forget_idempotency_keys(self, created_before: datetime, batch: int = 1000) -> int:
        """Delete up to ``batch`` stored answers created before the instant, oldest first;
        returns how many. A key forgotten can be used again as a new one."""
        ...

    def cancel_run(self, run_id: int, now: datetime, reason: str) -> Run:
        """A waiting run (queued or retrying) becomes ``cancelled``; a running one too: its
        lease is cleared, so the holder's next heartbeat is refused and it stops the
        attempt (and its result is dropped by the fence). Raises ``RunNotFoundError``, and
        ``ScheduleConflictError`` for a run already finished (nothing written)."""
        ...

    def retry_run(self, run_id: int, now: datetime) -> Run:
        """A finished run that did not succeed (failed, timed_out, cancelled) is queued
        again, due now, with the same nominal fire (so the same idempotency key) and
        ``max_attempts`` raised to at least ``attempt + 1`` so one more attempt may run (a run
        cancelled before it used its retries keeps them). Raises
        ``RunNotFoundError``, and ``ScheduleConflictError`` for a run in another state."""
        ...
