"""``/metrics``: the Prometheus exposition of ``Tickwork.metrics`` (docs/metrics.md).

No token is needed unless ``metrics_auth = true``; then a bearer token with the ``read``
scope (``api_auth = "none"``, local development, turns every check off).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tickwork.tokens import verify_token_cached
from tickwork.web.api.problems import problem_response
from tickwork.web.observed import observed_route_class

if TYPE_CHECKING:
    from tickwork.app import Tickwork

__all__ = ["build_metrics_router"]


def build_metrics_router(tw: Tickwork) -> APIRouter:
    router = APIRouter(tags=["health"], route_class=observed_route_class(tw.metrics))

    @router.get(
        "/metrics",
        summary="Prometheus metrics (text exposition format)",
        response_class=Response,
        responses={
            200: {"content": {"text/plain": {}}},
            401: {"description": "metrics_auth is on and no valid token was given"},
            403: {"description": "the token lacks the read scope"},
        },
    )
    def metrics(request: Request) -> Response:  # sync: the collector reads the database
        refused = _refusal(tw, request.headers.get("authorization", ""))
        if refused is not None:
            return refused
        body, content_type = tw.metrics.exposition()
        return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})

    return router


def _refusal(tw: Tickwork, authorization: str) -> Response | None:
    """None when the request may read the metrics, else the problem response."""
    if not tw.settings.metrics_auth or tw.settings.api_auth == "none":
        return None
    scheme, _, token = authorization.partition(" ")
    principal = verify_token_cached(tw, token.strip()) if scheme.lower() == "bearer" else None
    if principal is None:
        return problem_response(
            401,
            "metrics_auth is on: send 'Authorization: Bearer <token>' with a live token "
            "that has the read scope",
            headers={"WWW-Authenticate": 'Bearer realm="tickwork"'},
        )
    if not principal.can("read"):
        return problem_response(403, f"token {principal.name!r} lacks the read scope")
    return None
