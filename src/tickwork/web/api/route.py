"""``TickworkRoute``: the ``APIRoute`` every ``/api/v1`` route uses, so that problem
documents, caching headers, ``Server-Timing`` and the request-duration metric work in any
FastAPI app that includes the router, with no app-level handler or middleware.

- An exception becomes a problem document (``problems.problem_for``); one that is a bug is
  logged and answered 500 without details.
- A successful GET gets a strong ``ETag``: the sha256 of the exact body bytes, so a
  representation that changed always gets a new one, and one that did not keeps it.
  ``If-None-Match`` that matches gets ``304 Not Modified``. ``Cache-Control: private,
  no-cache`` (private data: a shared cache must not keep it; a browser revalidates each
  time) with ``Vary: Authorization``. Everything else is ``Cache-Control: no-store``.
- ``Server-Timing: app;dur=<ms>`` and ``tw.metrics.http_request_duration`` observed with
  (method, route template, status).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from tickwork.errors import InvalidSpecError
from tickwork.metrics import Metrics
from tickwork.web.api.problems import problem_for, problem_response

__all__ = ["Representation", "etag_of", "route_class"]

log = logging.getLogger("tickwork.api")

CACHEABLE = "private, no-cache"
NOT_STORED = "no-store"


def etag_of(body: bytes) -> str:
    """The strong ETag of a body: its sha256 (first 128 bits, hex), quoted."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


@dataclass(frozen=True, slots=True)
class Representation:
    """JSON bytes with their ETag (``etag_of`` the body, always), computed once for all
    the requests that share them (``SharedReads``) instead of hashing ~30 KiB each."""

    body: bytes
    etag: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "etag", etag_of(self.body))

    def response(self) -> Response:
        return _Tagged(self)


class _Tagged(Response):
    """A JSON response whose ETag came with its body (``Representation``)."""

    def __init__(self, shown: Representation) -> None:
        super().__init__(shown.body, media_type="application/json")
        self.etag = shown.etag


def _matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 13.1.2: ``*`` or any listed tag, compared weakly (``W/`` ignored)."""
    tags = [t.strip() for t in if_none_match.split(",")]
    return any(t == "*" or t.removeprefix("W/") == etag for t in tags)


def _refuse_nul(request: Request) -> None:
    """A NUL character in a query or path parameter is refused (422) before any route
    reads it: PostgreSQL's text cannot hold one (the driver raised, a 500), and no name,
    cursor or filter has one."""
    given = [*request.path_params.items(), *request.query_params.multi_items()]
    for name, value in given:
        if isinstance(value, str) and "\x00" in value:
            raise InvalidSpecError(
                name, value, "text without NUL characters", message=f"{name} holds a NUL character"
            )


def route_class(metrics: Metrics) -> type[APIRoute]:
    """An ``APIRoute`` subclass observing into ``metrics`` (one per app)."""

    class TickworkRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()
            template = self.path_format

            async def answer(request: Request) -> Response:
                started = time.perf_counter()
                try:
                    _refuse_nul(request)
                    response = await handler(request)
                except Exception as exc:
                    problem = problem_for(exc, instance=request.url.path)
                    if problem is None:
                        log.exception(
                            "unexpected error answering %s %s",
                            request.method,
                            template,
                            extra={"action": "api_error", "route": template},
                        )
                        problem = problem_response(
                            500,
                            "an unexpected error; it was logged with its traceback",
                            instance=request.url.path,
                        )
                    response = problem
                response = _cache(request, response)
                elapsed = time.perf_counter() - started
                response.headers["Server-Timing"] = f"app;dur={elapsed * 1000:.2f}"
                metrics.http_request_duration.labels(
                    request.method, template, str(response.status_code)
                ).observe(elapsed)
                return response

            return answer

    return TickworkRoute


def _cache(request: Request, response: Response) -> Response:
    if request.method not in ("GET", "HEAD") or response.status_code != 200:
        response.headers.setdefault("Cache-Control", NOT_STORED)
        return response
    etag = response.etag if isinstance(response, _Tagged) else etag_of(bytes(response.body))
    headers = {"ETag": etag, "Cache-Control": CACHEABLE, "Vary": "Authorization"}
    given = request.headers.get("if-none-match")
    if given is not None and _matches(given, etag):
        return Response(status_code=304, headers=headers)
    response.headers.update(headers)
    return response
