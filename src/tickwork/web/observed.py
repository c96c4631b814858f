"""``observed_route_class(metrics)``: an ``APIRoute`` that times each request into
``metrics.http_request_duration`` with (method, route template, status), and does nothing
else. /health, /ready, /metrics and the dashboard use it; the API's ``TickworkRoute`` does the
same and more (problem documents, ETags). Labels come from route templates (``/runs/{id}``,
never ``/runs/17``), so their number is bounded by the routes, whatever is requested.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from tickwork.metrics import Metrics

__all__ = ["observed_route_class"]


def observed_route_class(metrics: Metrics) -> type[APIRoute]:
    """An ``APIRoute`` subclass observing into ``metrics`` (one per app). A handler that
    raises is observed as 500 before the error goes on to the app's handlers."""

    class ObservedRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()
            template = self.path_format
            histogram = metrics.http_request_duration

            async def answer(request: Request) -> Response:
                started = time.perf_counter()
                status = "500"
                try:
                    response = await handler(request)
                    status = str(response.status_code)
                    return response
                finally:
                    elapsed = time.perf_counter() - started
                    histogram.labels(request.method, template, status).observe(elapsed)

            return answer

    return ObservedRoute
