"""The HTTP side of tickwork: /health, /ready, /metrics, the API and the dashboard.

    app = FastAPI(lifespan=tw.lifespan)               # the engine runs inside the service
    app.include_router(tw.router(), prefix="/tickwork")

``build_router(tw)`` composes the parts for embedding; ``create_app(tw)`` is the standalone
app ``tickwork run`` and ``tickwork api`` serve (docs/embedding.md).
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI

from tickwork import __version__
from tickwork.web.health import build_health_router
from tickwork.web.metrics_route import build_metrics_router

if TYPE_CHECKING:
    from tickwork.app import Tickwork

__all__ = ["build_router", "create_app"]

log = logging.getLogger("tickwork.web")

# (module, builder) of the API (/api/v1) and the dashboard (/, /schedules, ...).
_PARTS = (
    ("tickwork.web.api", "build_api_router"),
    ("tickwork.web.dashboard", "build_dashboard_router"),
)


def build_router(tw: Tickwork) -> APIRouter:
    """Every route of tickwork in one router (mount it under any prefix)."""
    router = APIRouter()
    router.include_router(build_health_router(tw))
    router.include_router(build_metrics_router(tw))
    for module, builder in _PARTS:
        part = _optional_part(module, builder)
        if part is not None:
            router.include_router(part(tw))
    return router


def _optional_part(module: str, builder: str) -> Any:
    try:
        return getattr(importlib.import_module(module), builder)
    except ModuleNotFoundError as err:
        if err.name != module:
            raise
        log.warning("%s is not installed in this build; its routes are left out", module)
        return None


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
