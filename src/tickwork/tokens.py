"""Bearer tokens of the HTTP API and dashboard: created once, stored as sha256, checked per
request.

Scopes nest: ``admin`` ⊇ ``write`` ⊇ ``read``. ``read`` sees everything; ``write`` also
pauses, resumes, triggers, cancels and retries runs and changes schedules that run a
registered task; ``admin`` also manages schedules that run shell commands (a remote-execution
surface). A token is shown once, when created; only its sha256 is stored (``tw_tokens``), so a
copy of the database cannot be used to call the API.

    plaintext, info = create_token(tw, "deploy-bot", "write")
    principal = verify_token(tw, plaintext)        # Principal | None
    principal.can("read")                          # True: write includes read

The HTTP routes use ``verify_token_cached``: a live token verified within
``VERIFIED_TTL`` (5 s of the app's clock) is answered from this process's memory, without a
database read. So a revocation made by another process (``tickwork token revoke``) takes
effect within 5 s here; one made through ``revoke_token`` in this process, at once.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from tickwork.errors import InvalidSpecError
from tickwork.store.api_base import TokenRow, TokenStore

if TYPE_CHECKING:
    from tickwork.app import Tickwork

__all__ = [
    "LOCAL_PRINCIPAL",
    "SCOPES",
    "Principal",
    "TokenInfo",
    "create_token",
    "hash_token",
    "implied_scopes",
    "list_tokens",
    "peek_verified",
    "revoke_token",
    "verify_token",
    "verify_token_cached",
]

SCOPES = ("read", "write", "admin")  # each includes the ones before it
TOKEN_PREFIX = "tw_"  # recognisable in logs and by secret scanners
TOUCH_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often per token
NAME_MAX = 200
VERIFIED_TTL = timedelta(seconds=5)  # how long a verified token is trusted without a read
VERIFIED_MAX = 1024  # live tokens remembered per store (least recently used dropped)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts as: a token's name and every scope it holds (implied included:
    an ``admin`` token's ``scopes`` is ``{"read", "write", "admin"}``)."""

    name: str
    scopes: frozenset[str]

    def can(self, scope: str) -> bool:
        return scope in self.scopes


# The principal of ``api_auth = "none"`` (local development): every scope.
LOCAL_PRINCIPAL = Principal("local", frozenset(SCOPES))


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A token as listed: never its plaintext. ``scopes`` as granted (e.g. ``("write",)``)."""

    name: str
    scopes: tuple[str, ...]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


def implied_scopes(scopes: Iterable[str]) -> frozenset[str]:
    """``scopes`` with every scope they include (``admin`` -> admin, write, read)."""
    held: set[str] = set()
    for scope in scopes:
        if scope in SCOPES:
            held.update(SCOPES[: SCOPES.index(scope) + 1])
    return frozenset(held)


def hash_token(plaintext: str) -> str:
    """The stored form of a token: sha256, hex. Tokens are 256 random bits, so a fast hash
    is enough (there is nothing to brute-force, unlike a password)."""
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def create_token(
    store_or_tw: Tickwork | TokenStore,
    name: str,
    scopes: str | Iterable[str],
    now: datetime | None = None,
) -> tuple[str, TokenInfo]:
    """A new token called ``name`` with ``scopes`` (one of read, write, admin, or several).
    Returns the plaintext (shown once, never stored) and what is stored. Raises
    ``InvalidSpecError`` for a bad name or scope, or a name a live token already has."""
    wanted = _scopes(scopes)
    _check_name(name)
    store, at = _store_and_now(store_or_tw, now)
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = store.add_token(name, hash_token(plaintext), wanted, at)
    return plaintext, _info(row)


def verify_token(
    store_or_tw: Tickwork | TokenStore, plaintext: str, now: datetime | None = None
) -> Principal | None:
    """The principal of a live token, or None (unknown, malformed or revoked). Records the
    use (``last_used_at``, at most once a minute per token)."""
    if not plaintext.startswith(TOKEN_PREFIX) or len(plaintext) > 200:
        return None
    store, at = _store_and_now(store_or_tw, now)
    row = store.token_by_hash(hash_token(plaintext))
    if row is None or row.revoked_at is not None:
        return None
    if row.last_used_at is None or row.last_used_at <= at - TOUCH_EVERY:
        store.touch_token(row.id, at, unless_after=at - TOUCH_EVERY)
    return Principal(row.name, implied_scopes(row.scopes))


def verify_token_cached(
    store_or_tw: Tickwork | TokenStore, plaintext: str, now: datetime | None = None
) -> Principal | None:
    """``verify_token``, answered from memory for a live token verified within
    ``VERIFIED_TTL`` (unknown and revoked tokens are never remembered, so a new token works
    at once). ``revoke_token`` in this process forgets the token at once; a revocation by
    another process takes effect here within ``VERIFIED_TTL``."""
    store, at = _store_and_now(store_or_tw, now)
    found = peek_verified(store, plaintext, at)
    if found is not None:
        return found
    found = verify_token(store, plaintext, at)
    if found is not None:
        _memory(store).remember(hash_token(plaintext), found, at)
    return found


def peek_verified(
    store_or_tw: Tickwork | TokenStore, plaintext: str, now: datetime | None = None
) -> Principal | None:
    """The principal remembered for ``plaintext`` by ``verify_token_cached`` within
    ``VERIFIED_TTL``, or None (then verify it: this never reads the database)."""
    if not plaintext.startswith(TOKEN_PREFIX) or len(plaintext) > 200:
        return None
    store, at = _store_and_now(store_or_tw, now)
    memory = _memories.get(store)
    return None if memory is None else memory.recall(hash_token(plaintext), at)


class _Verified:
    """Live tokens verified lately, by hash: (principal, when verified), least recent first."""

    def __init__(self) -> None:
        self.entries: OrderedDict[str, tuple[Principal, datetime]] = OrderedDict()
        self.lock = threading.Lock()  # routes verify in a thread pool

    def recall(self, digest: str, now: datetime) -> Principal | None:
        with self.lock:
            entry = self.entries.get(digest)
            if entry is None:
                return None
            principal, at = entry
            if not at <= now < at + VERIFIED_TTL:  # stale, or a clock that went back
                del self.entries[digest]
                return None
            self.entries.move_to_end(digest)
            return principal

    def remember(self, digest: str, principal: Principal, now: datetime) -> None:
        with self.lock:
            self.entries[digest] = (principal, now)
            self.entries.move_to_end(digest)
            while len(self.entries) > VERIFIED_MAX:
                self.entries.popitem(last=False)

    def forget(self, name: str) -> None:
        with self.lock:
            for digest in [d for d, (p, _) in self.entries.items() if p.name == name]:
                del self.entries[digest]


_memories: weakref.WeakKeyDictionary[TokenStore, _Verified] = weakref.WeakKeyDictionary()
_memories_lock = threading.Lock()


def _memory(store: TokenStore) -> _Verified:
    with _memories_lock:
        memory = _memories.get(store)
        if memory is None:
            memory = _memories[store] = _Verified()
        return memory


def list_tokens(store_or_tw: Tickwork | TokenStore) -> list[TokenInfo]:
    """Every token, revoked ones included, by name."""
    return [_info(row) for row in _store(store_or_tw).list_tokens()]


def revoke_token(
    store_or_tw: Tickwork | TokenStore, name: str, now: datetime | None = None
) -> TokenInfo:
    """Revoke the token called ``name`` (idempotent: revoking twice keeps the first
    instant). Raises ``InvalidSpecError`` (field ``name``) when no token has that name."""
    store, at = _store_and_now(store_or_tw, now)
    row = store.revoke_token(name, at)
    memory = _memories.get(store)
    if memory is not None:
        memory.forget(name)  # this process refuses it at once (others within VERIFIED_TTL)
    if row is None:
        raise InvalidSpecError(
            "name", name, "the name of an existing token", message=f"no token named {name!r}"
        )
    return _info(row)


def _scopes(scopes: str | Iterable[str]) -> tuple[str, ...]:
    given = [scopes] if isinstance(scopes, str) else list(scopes)
    if not given:
        raise InvalidSpecError("scope", given, "one or more of " + ", ".join(SCOPES))
    for scope in given:
        if scope not in SCOPES:
            raise InvalidSpecError("scope", scope, "one of " + ", ".join(SCOPES))
    return tuple(s for s in SCOPES if s in given)


def _check_name(name: str) -> None:
    if (
        not isinstance(name, str)
        or not 0 < len(name) <= NAME_MAX
        or not name.isprintable()
        or any(c.isspace() for c in name)
    ):
        raise InvalidSpecError("name", name, f"1 to {NAME_MAX} printable characters without spaces")


def _store_and_now(target: Any, now: datetime | None) -> tuple[TokenStore, datetime]:
    store = _store(target)
    if now is None:
        clock = getattr(target, "clock", None)
        if clock is None:
            raise TypeError("pass now= when giving a store (a Tickwork app has a clock)")
        now = clock.now()
    assert now is not None
    return store, now


def _store(target: Any) -> TokenStore:
    if type(target) in _STORE_TYPES:
        known: TokenStore = target
        return known
    store = target if isinstance(target, TokenStore) else getattr(target, "store", None)
    if type(store) not in _STORE_TYPES:
        # isinstance of a Protocol checks every method: once per type, not per request.
        if not isinstance(store, TokenStore):
            raise TypeError(f"{type(target).__name__} stores no API tokens")
        _STORE_TYPES.add(type(store))
    return cast(TokenStore, store)


_STORE_TYPES: set[type] = set()  # types already seen to be TokenStores


def _info(row: TokenRow) -> TokenInfo:
    return TokenInfo(row.name, row.scopes, row.created_at, row.last_used_at, row.revoked_at)
