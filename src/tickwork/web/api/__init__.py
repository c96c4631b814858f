"""The versioned HTTP API: ``build_api_router(tw)`` holds every ``/api/v1/...`` route.

Include it in any FastAPI app (``tw.router()`` does, with /health, /ready and /metrics):
errors are RFC 9457 problem documents, GETs carry strong ETags, every response says
``Cache-Control`` and ``Server-Timing``, and each request is observed into
``tw.metrics.http_request_duration`` — all done by the routes themselves
(``TickworkRoute``), so no app-level handler or middleware is needed. See docs/http-api.md.
"""

from __future__ import annotations

from fastapi import APIRouter

from tickwork.app import Tickwork
from tickwork.web.api.auth import scope_dependency
from tickwork.web.api.common import API
from tickwork.web.api.problems import (
    PROBLEM_RESPONSES,
    FieldError,
    problem_for,
    problem_response,
)
from tickwork.web.api.route import route_class
from tickwork.web.api.runs import add_run_routes
from tickwork.web.api.schedules import add_schedule_routes

__all__ = ["PREFIX", "FieldError", "build_api_router", "problem_for", "problem_response"]

PREFIX = "/api/v1"


def build_api_router(tw: Tickwork) -> APIRouter:
    """Every ``/api/v1`` route of ``tw``, each needing a token with a scope (read, write,
    admin) unless the config says ``api_auth = "none"`` (a warning is logged)."""
    router = APIRouter(
        prefix=PREFIX,
        route_class=route_class(tw.metrics),
        tags=["tickwork"],
        responses=PROBLEM_RESPONSES,
    )
    api = API(tw, scope_dependency(tw))
    add_schedule_routes(router, api)
    add_run_routes(router, api)
    return router
