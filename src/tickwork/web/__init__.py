"""The HTTP side of tickwork: /health, /ready, /metrics, the API and the dashboard.

    app = FastAPI(lifespan=tw.lifespan)               # the engine runs inside the service
    app.include_router(tw.router(), prefix="/tickwork")

``build_router(tw)`` composes the parts for embedding; ``create_app(tw)`` is the standalone
app ``tickwork run`` and ``tickwork api`` serve (docs/embedding.md).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import anyio.to_thread
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
    for part in _parts(tw):
        router.include_router(part)
    return router


def _parts(tw: Tickwork) -> list[APIRouter]:
    return [
        build_health_router(tw),
        build_metrics_router(tw),
        build_api_router(tw),
        build_dashboard_router(tw),
    ]


def create_app(tw: Tickwork, *, engine: bool = False) -> FastAPI:
    """A FastAPI app serving ``build_router(tw)`` at the root, with /openapi.json and /docs.

    Its routes that read the database run in ``api_threads`` threads (Starlette's default
    is 40: threads that mostly compute, under one GIL, starve the event loop that reads
    and answers requests; measured in docs/benchmarks.md). With ``engine=True`` its
    lifespan also runs the scheduler and worker (``tw.lifespan``), as in a service of your
    own; ``tickwork run`` runs the engine itself and serves it without.
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The limiter belongs to this event loop (the server's); an app of your own that
        # includes build_router keeps whatever limiter it set.
        anyio.to_thread.current_default_thread_limiter().total_tokens = tw.settings.api_threads
        with _long_lived_frozen():
            if engine:
                async with tw.lifespan(app):
                    yield
            else:
                yield

    app = FastAPI(
        title="tickwork",
        version=__version__,
        summary="Scheduled tasks that keep their promises",
        lifespan=lifespan,
    )
    # The parts themselves, in ``build_router``'s order: FastAPI matches each request
    # against every level of included routers again as it descends, so one level less
    # is ~30 µs less per request (a tenth of a listing request served from shared reads).
    for part in _parts(tw):
        app.include_router(part)
    return app


@contextlib.contextmanager
def _long_lived_frozen() -> Iterator[None]:
    """What exists once the app has started (the app, its routes and models, the store's
    engine, the imported modules: ~110,000 objects) is moved out of the garbage
    collector's view while the app serves (``gc.freeze``), and back when it stops.

    Otherwise every full collection, which the short-lived cycles of requests set off
    every few seconds under load, walked all of it: ~50 ms here, in which the process
    answered nothing (the API's listing at 50 connections: p99 78 ms, against 36 ms
    frozen). Frozen objects are never collected as garbage, so only what lives as long
    as the app is frozen; ``unfreeze`` at shutdown hands them back."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
