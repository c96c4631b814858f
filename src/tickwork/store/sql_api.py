"""The SQL of the HTTP API (``TokenStore``, ``APIStore`` in ``store/api_base.py``), shared by
both stores as a mixin over ``SQLStore``: ``class SQLiteStore(APISQLMixin)``.

Same rules as ``store/sql.py``: each public method is one transaction, ``now`` is passed in,
the database says no (unique keys, conditional updates checked by row count).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.engine import RowMapping

from tickwork.errors import InvalidSpecError
from tickwork.store.api_base import TokenRow
from tickwork.store.schema import tokens
from tickwork.store.sql import SQLStore, _aware, _retried

__all__ = ["APISQLMixin"]


class APISQLMixin(SQLStore):
    """Tokens, idempotency keys, API-owned schedules, pages, cancel and retry."""

    # -- tokens --------------------------------------------------------------------------

    @_retried
    def add_token(
        self, name: str, token_hash: str, scopes: Sequence[str], now: datetime
    ) -> TokenRow:
        """Insert a token row (see ``TokenStore``); a revoked row of that name is replaced."""
        _aware(now, "now")
        with self._transaction("add a token", write=True) as conn:
            held = conn.execute(
                self._lock(select(tokens).where(tokens.c.name == name), skip_locked=False)
            ).mappings()
            found = held.one_or_none()
            if found is not None and found["revoked_at"] is None:
                raise InvalidSpecError(
                    "name",
                    name,
                    "a token name not in use (revoke the old token first)",
                    message=f"a token named {name!r} exists",
                )
            if found is not None:
                conn.execute(delete(tokens).where(tokens.c.id == found["id"]))
            conn.execute(
                self._dialect_insert(tokens)
                .values(
                    name=name,
                    token_hash=token_hash,
                    scopes=" ".join(scopes),
                    created_at=now,
                    last_used_at=None,
                    revoked_at=None,
                )
                # Two creates of one new name: the second finds the first's row and says so.
                .on_conflict_do_nothing()
            )
            row = conn.execute(select(tokens).where(tokens.c.name == name)).mappings().one()
            if row["token_hash"] != token_hash:
                raise InvalidSpecError(
                    "name",
                    name,
                    "a token name not in use",
                    message=f"a token named {name!r} exists",
                )
            return _token(row)

    @_retried
    def token_by_hash(self, token_hash: str) -> TokenRow | None:
        with self._transaction("read a token", write=False) as conn:
            found = conn.execute(select(tokens).where(tokens.c.token_hash == token_hash))
            row = found.mappings().one_or_none()
        return None if row is None else _token(row)

    @_retried
    def touch_token(self, token_id: int, now: datetime, *, unless_after: datetime) -> None:
        _aware(now, "now")
        _aware(unless_after, "unless_after")
        with self._transaction("record a token's use", write=True) as conn:
            conn.execute(
                update(tokens)
                .where(
                    tokens.c.id == token_id,
                    or_(tokens.c.last_used_at.is_(None), tokens.c.last_used_at <= unless_after),
                )
                .values(last_used_at=now)
            )

    @_retried
    def list_tokens(self) -> list[TokenRow]:
        with self._transaction("list tokens", write=False) as conn:
            rows = conn.execute(select(tokens).order_by(tokens.c.name)).mappings()
            return [_token(r) for r in rows]

    @_retried
    def revoke_token(self, name: str, now: datetime) -> TokenRow | None:
        _aware(now, "now")
        with self._transaction("revoke a token", write=True) as conn:
            conn.execute(
                update(tokens)
                .where(tokens.c.name == name, tokens.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            row = conn.execute(select(tokens).where(tokens.c.name == name)).mappings()
            found = row.one_or_none()
        return None if found is None else _token(found)


def _token(r: RowMapping) -> TokenRow:
    return TokenRow(
        id=r["id"],
        name=r["name"],
        token_hash=r["token_hash"],
        scopes=tuple(r["scopes"].split()),
        created_at=r["created_at"],
        last_used_at=r["last_used_at"],
        revoked_at=r["revoked_at"],
    )
