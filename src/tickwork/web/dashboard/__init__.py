"""The dashboard: server-rendered pages (Jinja2 + htmx) over the ``Tickwork`` facade.

    app = FastAPI(lifespan=tw.lifespan)
    app.include_router(build_dashboard_router(tw), prefix="/tickwork")

Every URL in the pages comes from ``request.url_for``, so any prefix works. Login takes an
API token (``tickwork token create NAME --scope write``); see docs/dashboard.md.
"""

from __future__ import annotations

from fastapi import APIRouter

from tickwork.app import Tickwork
from tickwork.tokens import verify_token_cached
from tickwork.web.dashboard.routes import build_router

__all__ = ["build_dashboard_router"]


def build_dashboard_router(tw: Tickwork) -> APIRouter:
    """The dashboard's routes (names ``dashboard.*``), to include in a FastAPI app."""
    return build_router(tw, verify_token_cached)
