"""``create_app`` as served: its lifespan keeps what exists at start-up out of the garbage
collector's full passes while it serves (``gc.freeze``) and hands it back when it stops;
it includes ``build_router``'s parts itself (one level of routers less to match through),
which documents and serves the same routes in the same order."""

from __future__ import annotations

import gc
import json

from fastapi import FastAPI

from tickwork.app import Tickwork
from tickwork.web import build_router, create_app

from .conftest import TestClient


def test_the_app_freezes_what_exists_at_start_up_while_it_serves(tw: Tickwork) -> None:
    assert gc.get_freeze_count() == 0
    with TestClient(create_app(tw)) as http:
        assert gc.get_freeze_count() > 0
        assert http.get("/health").status_code == 200
    assert gc.get_freeze_count() == 0


def test_the_app_documents_what_build_router_holds_in_its_order(tw: Tickwork) -> None:
    app = create_app(tw)
    nested = FastAPI(title=app.title, version=app.version, summary=app.summary)
    nested.include_router(build_router(tw))
    assert json.dumps(app.openapi()) == json.dumps(nested.openapi())
