"""Who is asking: a bearer token (``tickwork.tokens``), or nobody in the explicit local
development mode (``api_auth = "none"``). Scopes nest: admin ⊇ write ⊇ read."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, cast

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from tickwork.app import Tickwork
from tickwork.store.api_base import TokenStore
from tickwork.tokens import LOCAL_PRINCIPAL, Principal, peek_verified, verify_token_cached

__all__ = ["AUTH_NONE_WARNING", "scope_dependency"]

log = logging.getLogger("tickwork.api")

AUTH_NONE_WARNING = (
    "api_auth = 'none': the HTTP API answers anyone who can reach it, with every scope; "
    "use it for local development only"
)
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="tickwork"'}

bearer = HTTPBearer(
    auto_error=False,
    description="A token from `tickwork token create NAME --scope read|write|admin`.",
)


def scope_dependency(tw: Tickwork) -> Callable[[str], Callable[..., Awaitable[Principal]]]:
    """``needs(scope)``: a dependency giving the request's ``Principal`` once it holds
    ``scope`` (401 without a valid token, 403 with one that lacks the scope).

    A token verified within the last 5 s is answered from memory on the event loop
    (``tickwork.tokens.verify_token_cached``: revocation by another process takes effect
    within 5 s); otherwise the database is read in the thread pool."""
    open_mode = tw.settings.api_auth == "none"
    if open_mode:
        log.warning(AUTH_NONE_WARNING, extra={"action": "api_auth_none"})

    def needs(scope: str) -> Callable[..., Awaitable[Principal]]:
        async def principal(
            credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
        ) -> Principal:
            if open_mode:
                return LOCAL_PRINCIPAL
            if credentials is None:
                raise HTTPException(
                    401,
                    "this route needs a bearer token (Authorization: Bearer <token>); "
                    "create one with `tickwork token create NAME --scope read`",
                    headers=CHALLENGE,
                )
            token = credentials.credentials
            # The store itself, not ``tw``: ``tokens`` then recognises it by its type
            # instead of checking the ``TokenStore`` protocol method by method per request
            # (it still checks a type it has not seen).
            found = peek_verified(cast(TokenStore, tw.store), token, tw.clock.now())
            if found is None:
                found = await run_in_threadpool(verify_token_cached, tw, token)
            if found is None:
                raise HTTPException(
                    401,
                    "the bearer token is unknown or revoked; expected a live token",
                    headers={"WWW-Authenticate": 'Bearer realm="tickwork", error="invalid_token"'},
                )
            if not found.can(scope):
                raise HTTPException(
                    403,
                    f"token {found.name!r} lacks the {scope!r} scope this route needs "
                    f"(it has: {', '.join(sorted(found.scopes))}); "
                    "scopes nest: admin ⊇ write ⊇ read",
                )
            return found

        return principal

    return needs
