"""What the route modules share: the context (app, scope checks), JSON responses with exact
bytes, and ``Idempotency-Key`` handling for POSTs."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Header, Request
from starlette.responses import Response

from tickwork.app import Tickwork
from tickwork.errors import InvalidSpecError
from tickwork.store.api_base import StoredResponse
from tickwork.tokens import Principal
from tickwork.web.api.problems import PROBLEM_MEDIA_TYPE

__all__ = ["API", "IdempotencyKey", "fingerprint", "json_response", "once", "replay"]

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="Makes the POST safe to retry: a request repeated with the same key "
        "(and the same body) gets the first answer and changes nothing again.",
    ),
]


@dataclass(frozen=True, slots=True)
class API:
    tw: Tickwork
    needs: Callable[[str], Callable[..., Awaitable[Principal]]]


def dumps(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """JSON with exactly these bytes (the ETag is their hash)."""
    if status == 204:
        return Response(status_code=204, headers=dict(headers or {}))
    return Response(
        dumps(body), status_code=status, media_type="application/json", headers=dict(headers or {})
    )


async def fingerprint(request: Request) -> str:
    """The request's identity for idempotency: method, path, query and body bytes."""
    digest = hashlib.sha256()
    for part in (request.method, request.url.path, request.url.query):
        digest.update(part.encode() + b"\0")
    digest.update(await request.body())
    return digest.hexdigest()


def route_id(request: Request) -> str:
    route = request.scope.get("route")
    template = getattr(route, "path_format", request.url.path)
    return f"{request.method} {template}"


def replay(stored: StoredResponse, request_hash: str, key: str) -> Response:
    """The first answer to ``key`` again, or a problem when this request differs."""
    if stored.request_hash != request_hash:
        raise InvalidSpecError(
            "Idempotency-Key",
            key,
            "a new key for each different request (this key was first used with another "
            "path or body)",
            message="this Idempotency-Key was already used for a different request",
        )
    media = PROBLEM_MEDIA_TYPE if stored.status_code >= 400 else "application/json"
    headers = {"Idempotent-Replayed": "true"}
    if stored.status_code == 204:
        return Response(status_code=204, headers=headers)
    return Response(dumps(stored.body), stored.status_code, headers=headers, media_type=media)


def once(
    api: API,
    request: Request,
    principal: Principal,
    key: str | None,
    request_hash: str,
    action: Callable[[], tuple[int, Any]],
) -> Response:
    """Run ``action`` unless ``key`` was used: then replay the first answer. Only successful
    answers are kept (a refused request changed nothing, so trying it again is safe). Two
    simultaneous requests with one key both act; the action itself must be safe to repeat
    (create: the second gets 409; pause: a no-op) and the first stored answer wins."""
    if key is None:
        status, body = action()
        return json_response(body, status)
    route = route_id(request)
    stored = api.tw.stored_response(principal.name, route, key)
    if stored is not None:
        return replay(stored, request_hash, key)
    status, body = action()
    first = api.tw.remember_response(
        principal.name, route, key, StoredResponse(request_hash, status, body)
    )
    if first.request_hash != request_hash or first.body != body:
        return replay(first, request_hash, key)
    return json_response(body, status)
