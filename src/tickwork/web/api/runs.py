"""``/api/v1/runs`` (list, show, cancel, retry) and ``/api/v1/workers``."""

# No "from __future__ import annotations": FastAPI reads these routes' annotations, which
# name dependencies built per app inside the functions below.

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import Response

from tickwork.errors import RunNotFoundError
from tickwork.model import RunState
from tickwork.store.base import RunFilter
from tickwork.tokens import Principal
from tickwork.web.api.common import API, IdempotencyKey, fingerprint, json_response, once
from tickwork.web.api.shapes import (
    decode_cursor,
    encode_cursor,
    run_detail_json,
    run_json,
    worker_json,
)
from tickwork.zones import parse_instant

__all__ = ["add_run_routes"]

RunId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The run's id.")]
Instant = Annotated[
    str | None,
    Query(max_length=100, description="An ISO 8601 instant with offset (nominal fire time)."),
]


def add_run_routes(router: APIRouter, api: API) -> None:
    tw, needs = api.tw, api.needs
    Reader = Annotated[Principal, Depends(needs("read"))]
    Writer = Annotated[Principal, Depends(needs("write"))]
    Fingerprint = Annotated[str, Depends(fingerprint)]

    @router.get("/runs", name="tickwork_api_list_runs", summary="List runs, newest first")
    def list_runs(
        _: Reader,
        schedule: Annotated[str | None, Query(max_length=200)] = None,
        state: Annotated[list[RunState] | None, Query()] = None,
        since: Instant = None,
        until: Instant = None,
        cursor: Annotated[str | None, Query(max_length=1000)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> Response:
        """Runs by id, newest first, filtered by schedule, state (repeat for several) and
        nominal fire (``since`` <= fire < ``until``); pass ``next_cursor`` back as
        ``cursor`` for the next page."""
        before = None if cursor is None else decode_cursor(cursor, "runs")
        if before is not None and (not isinstance(before, int) or isinstance(before, bool)):
            before = decode_cursor("", "runs")  # raises: a cursor of runs holds an id
        query = RunFilter(
            schedule=schedule,
            states=frozenset(state or ()),
            since=None if since is None else parse_instant(since, "since"),
            until=None if until is None else parse_instant(until, "until"),
            before_id=before,
            limit=limit + 1,
        )
        found = tw.store.list_runs(query)
        page, more = found[:limit], len(found) > limit
        return json_response(
            {
                "items": [run_json(r) for r in page],
                "next_cursor": encode_cursor("runs", page[-1].id) if more else None,
            }
        )

    @router.get("/runs/{run_id}", name="tickwork_api_get_run", summary="Show a run")
    def get_run(_: Reader, run_id: RunId) -> Response:
        """A run with its attempts, every event (transition) and its captured output."""
        run = tw.store.get_run(run_id)
        if run is None:
            raise RunNotFoundError(run_id)
        return json_response(run_detail_json(run, tw.store.run_events(run_id)))

    @router.post(
        "/runs/{run_id}/cancel", name="tickwork_api_cancel_run", summary="Cancel a run (write)"
    )
    def cancel_run(
        request: Request,
        principal: Writer,
        run_id: RunId,
        request_hash: Fingerprint,
        key: IdempotencyKey = None,
    ) -> Response:
        """A queued or retrying run is cancelled at once. A running one too: its worker is
        refused at its next heartbeat (within lease/3, at most 5 s), stops the attempt and
        drops its result. A finished run: 409."""

        def cancel() -> tuple[int, Any]:
            return 200, run_json(tw.cancel_run(run_id, actor=principal.name))

        return once(api, request, principal, key, request_hash, cancel)

    @router.post(
        "/runs/{run_id}/retry", name="tickwork_api_retry_run", summary="Retry a run (write)"
    )
    def retry_run(
        request: Request,
        principal: Writer,
        run_id: RunId,
        request_hash: Fingerprint,
        key: IdempotencyKey = None,
    ) -> Response:
        """A failed, timed-out or cancelled run is queued again, due now: the same run (one
        per schedule and nominal fire), so the same idempotency key, with one more attempt
        allowed. Any other state: 409."""

        def retry() -> tuple[int, Any]:
            return 200, run_json(tw.retry_run(run_id))

        return once(api, request, principal, key, request_hash, retry)

    @router.get("/workers", name="tickwork_api_list_workers", summary="List worker processes")
    def list_workers(_: Reader) -> Response:
        """Registered processes (scheduler, worker, API roles) with their last heartbeat."""
        return json_response({"items": [worker_json(w) for w in tw.store.list_workers()]})
