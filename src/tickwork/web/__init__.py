"""The HTTP side of tickwork: /health, /ready, /metrics, the API and the dashboard.

    app = FastAPI(lifespan=tw.lifespan)               # the engine runs inside the service
    app.include_router(tw.router(), prefix="/tickwork")

``build_router(tw)`` composes the parts for embedding; ``create_app(tw)`` is the standalone
app ``tickwork run`` and ``tickwork api`` serve (docs/embedding.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, FastAPI

from tickwork import __version__
from tickwork.web.api import build_api_router
from tickwork.web.dashboard import build_dashboard_router
from tickwork.web.health import build_health_router
from tickwork.web.metrics_route import build_metrics_router

if TYPE_CHECKING:
    from tickwork.app import Tickwork

__all__ = ["build_router", "create_app"]


def build_router(tw: Tickwork) -> APIRouter:
    """Every route of tickwork in one router (include it under any prefix): /health,
    /ready and /metrics, the API under /api/v1, the dashboard at / (and its pages)."""
    router = APIRouter()
    router.include_router(build_health_router(tw))
    router.include_router(build_metrics_router(tw))
    router.include_router(build_api_router(tw))
    router.include_router(build_dashboard_router(tw))
    return router


def create_app(tw: Tickwork, *, engine: bool = False) -> FastAPI:
    """A FastAPI app serving ``build_router(tw)`` at the root, with /openapi.json and /docs.

    With ``engine=True`` its lifespan runs the scheduler and worker (``tw.lifespan``), as in a
    service of your own; ``tickwork run`` runs the engine itself and serves it without.
    """
    app = FastAPI(
        title="tickwork",
        version=__version__,
        summary="Scheduled tasks that keep their promises",
        lifespan=tw.lifespan if engine else None,
    )
    app.include_router(build_router(tw))
    return app
