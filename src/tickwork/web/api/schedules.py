"""``/api/v1/preview`` and ``/api/v1/schedules``: list, show, create, replace, delete,

# No "from __future__ import annotations": FastAPI reads these routes' annotations, which
# name dependencies built per app inside the functions below.
pause, resume, trigger."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request
from starlette.responses import Response

from tickwork.app_api import APIScheduleEdit
from tickwork.errors import ScheduleNotFoundError, StateConflictError
from tickwork.model import CatchupPolicy, OverlapPolicy, Run, ScheduleRow
from tickwork.spec import KEYS, MAX_CATCHUP_LIMIT, MAX_RETRIES
from tickwork.tokens import Principal
from tickwork.web.api.common import (
    API,
    IdempotencyKey,
    dumps,
    fingerprint,
    json_response,
    once,
    replay,
    route_id,
)
from tickwork.web.api.listing import Filters, RowMemo, listing_body
from tickwork.web.api.route import Representation, etag_of
from tickwork.web.api.shapes import decode_cursor, run_json, schedule_json
from tickwork.web.api.shared_reads import SharedReads

__all__ = ["add_schedule_routes"]

Name = Annotated[str, Path(min_length=1, max_length=200, description="The schedule's name.")]
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=200,
        description="The ETag of the schedule as last read: refuse (412) if it changed since.",
    ),
]

_TEXT = {"type": "string", "maxLength": 2000}
_DURATION = {"type": "string", "maxLength": 100, "examples": ["15m", "1h30m"]}
SCHEDULE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The keys of a tickwork.toml [[schedule]] table (see docs/configuration.md).",
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$"},
        "cron": {**_TEXT, "examples": ["0 3 * * *"]},
        "every": _DURATION,
        "at": {"type": "string", "format": "date-time"},
        "tz": {"type": "string", "examples": ["Europe/Berlin"]},
        "task": {"type": "string", "description": "The name of a task registered in code."},
        "command": {**_TEXT, "description": "A shell command (needs api_commands = true)."},
        "stdin": _TEXT,
        "env": {"type": "object", "additionalProperties": {"type": "string"}},
        "shell": _TEXT,
        "cwd": _TEXT,
        "user": _TEXT,
        "retries": {"type": "integer", "minimum": 0, "maximum": MAX_RETRIES},
        "backoff": _DURATION,
        "backoff_max": _DURATION,
        "timeout": _DURATION,
        "overlap": {"enum": [p.value for p in OverlapPolicy]},
        "catchup": {"enum": [p.value for p in CatchupPolicy]},
        "catchup_window": _DURATION,
        "catchup_limit": {"type": "integer", "minimum": 0, "maximum": MAX_CATCHUP_LIMIT},
        "misfire_grace": _DURATION,
        "jitter": _DURATION,
        "overdue_after": _DURATION,
        "start_at": {"type": "string", "format": "date-time"},
        "end_at": {"type": "string", "format": "date-time"},
        "isolated": {"type": "boolean"},
        "description": _TEXT,
    },
}
assert set(SCHEDULE_SCHEMA["properties"]) == set(KEYS)
BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": SCHEDULE_SCHEMA}},
    }
}


def add_schedule_routes(router: APIRouter, api: API) -> None:
    tw, needs = api.tw, api.needs
    Reader = Annotated[Principal, Depends(needs("read"))]
    Writer = Annotated[Principal, Depends(needs("write"))]
    Admin = Annotated[Principal, Depends(needs("admin"))]
    Fingerprint = Annotated[str, Depends(fingerprint)]
    listed = RowMemo()  # each listed row's JSON, by the row's key (listing.py)
    # Requests for one page at the same time share a read begun after they arrived (the
    # read, in the thread pool; the rest of the request stays on the event loop).
    pages: SharedReads[Filters, Representation] = SharedReads(
        lambda filters: Representation(listing_body(tw, listed, filters))
    )

    def row_named(name: str) -> ScheduleRow:
        row = tw.store.get_schedule(name)
        if row is None:
            raise ScheduleNotFoundError(name)
        return row

    def expected_version(name: str, if_match: str | None) -> int | None:
        """The version ``If-Match`` pins (the ETag of the schedule as GET shows it)."""
        if if_match is None:
            return None
        row = row_named(name)
        current = etag_of(dumps(schedule_json(row)))
        if if_match.strip() != "*" and current not in [t.strip() for t in if_match.split(",")]:
            raise StateConflictError(
                f"schedule {name!r} changed since that ETag was read (now {current})",
                f"If-Match: {current} (read the schedule again, then repeat the change)",
                field="If-Match",
                got=if_match,
            )
        return row.version

    @router.get("/preview", name="tickwork_api_preview", summary="Next fires of a trigger")
    def preview(
        _: Reader,
        cron: Annotated[str | None, Query(max_length=500)] = None,
        every: Annotated[str | None, Query(max_length=100)] = None,
        at: Annotated[str | None, Query(max_length=100)] = None,
        tz: Annotated[str | None, Query(max_length=100)] = None,
        start_at: Annotated[str | None, Query(max_length=100)] = None,
        end_at: Annotated[str | None, Query(max_length=100)] = None,
        # The range is checked with the trigger (so every bad parameter is reported at once);
        # the schema still states it.
        count: Annotated[int, Query(json_schema_extra={"minimum": 1, "maximum": 100})] = 5,
    ) -> Response:
        """The next ``count`` fires after now of a trigger (exactly one of cron, every or
        at), in its zone, and its description; validated as tickwork.toml is."""
        given = {"cron": cron, "every": every, "at": at, "tz": tz}
        given |= {"start_at": start_at, "end_at": end_at}
        shown = tw.preview({k: v for k, v in given.items() if v is not None}, count)
        return json_response(
            {
                "description": shown.description,
                "fires": [f.isoformat() for f in shown.fires],
                "trigger": shown.spec,
            }
        )

    @router.get("/schedules", name="tickwork_api_list_schedules", summary="List schedules")
    async def list_schedules(
        _: Reader,
        cursor: Annotated[str | None, Query(max_length=1000)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        source: Annotated[Literal["config", "code", "api"] | None, Query()] = None,
        paused: bool | None = None,
        include_retired: bool = False,
        prefix: Annotated[str | None, Query(max_length=200)] = None,
    ) -> Response:
        """Schedules by name, a page at a time: pass ``next_cursor`` back as ``cursor``."""
        after = None if cursor is None else str(decode_cursor(cursor, "schedules"))
        filters = Filters(after, limit, source, paused, include_retired, prefix)
        return (await pages.get(filters)).response()

    @router.post(
        "/schedules",
        name="tickwork_api_create_schedule",
        status_code=201,
        summary="Create a schedule (admin)",
        openapi_extra=BODY_DOC,
    )
    def create_schedule(
        request: Request,
        principal: Admin,
        table: Annotated[dict[str, Any], Body()],
        request_hash: Fingerprint,
        key: IdempotencyKey = None,
    ) -> Response:
        """A schedule owned by the API. ``task`` must name a task registered in code;
        ``command`` needs ``api_commands = true`` in the config."""
        name = table.get("name")

        def create() -> tuple[int, Any]:
            label = name if isinstance(name, str) else ""
            edit = APIScheduleEdit(label, table, create=True)
            (row,) = tw.change_api_schedules([edit], actor=principal.name)
            assert row is not None
            return 201, schedule_json(row)

        return once(api, request, principal, key, request_hash, create)

    @router.get("/schedules/{name}", name="tickwork_api_get_schedule", summary="Show a schedule")
    def get_schedule(
        _: Reader, name: Name, count: Annotated[int, Query(ge=0, le=100)] = 5
    ) -> Response:
        """One schedule, with its next ``count`` fires in its zone."""
        return json_response(schedule_json(row_named(name), count))

    @router.put(
        "/schedules/{name}",
        name="tickwork_api_replace_schedule",
        summary="Replace a schedule's definition (admin; API schedules only)",
        openapi_extra=BODY_DOC,
    )
    def replace_schedule(
        principal: Admin,
        name: Name,
        table: Annotated[dict[str, Any], Body()],
        if_match: IfMatch = None,
    ) -> Response:
        """The whole definition, as for create; the schedule keeps its anchor and history.
        Schedules of config or code are read-only here (403)."""
        edit = APIScheduleEdit(name, table, expect_version=expected_version(name, if_match))
        (row,) = tw.change_api_schedules([edit], actor=principal.name)
        assert row is not None
        return json_response(schedule_json(row))

    @router.delete(
        "/schedules/{name}",
        name="tickwork_api_delete_schedule",
        status_code=204,
        summary="Delete (retire) a schedule (admin; API schedules only)",
    )
    def delete_schedule(principal: Admin, name: Name, if_match: IfMatch = None) -> Response:
        """Retired: never fires again; its runs and history stay."""
        edit = APIScheduleEdit(name, None, expect_version=expected_version(name, if_match))
        tw.change_api_schedules([edit], actor=principal.name)
        return json_response(None, 204)

    def toggle(verb: str) -> None:
        @router.post(
            f"/schedules/{{name}}/{verb}",
            name=f"tickwork_api_{verb}_schedule",
            summary=f"{verb.capitalize()} a schedule (write)",
        )
        def act(
            request: Request,
            principal: Writer,
            name: Name,
            request_hash: Fingerprint,
            key: IdempotencyKey = None,
        ) -> Response:
            def run() -> tuple[int, Any]:
                row = tw.pause(name) if verb == "pause" else tw.resume(name)
                return 200, schedule_json(row)

            return once(api, request, principal, key, request_hash, run)

        act.__doc__ = (
            "Pause: fires are recorded as skipped until resumed."
            if verb == "pause"
            else "Resume a paused schedule."
        ) + " Allowed on every schedule, config and code ones included."

    toggle("pause")
    toggle("resume")

    @router.post(
        "/schedules/{name}/trigger",
        name="tickwork_api_trigger_schedule",
        status_code=201,
        summary="Queue a run now (write)",
    )
    def trigger(
        request: Request,
        principal: Writer,
        name: Name,
        request_hash: Fingerprint,
        key: IdempotencyKey = None,
    ) -> Response:
        """A run due now, outside the schedule's trigger. With ``Idempotency-Key`` a retried
        request creates no second run (even when both arrive at once) and gets the first
        answer."""
        paused = tw.is_paused(name)  # a paused schedule's manual run goes ahead: say so

        def body(run: Run) -> dict[str, Any]:
            return {**run_json(run), "schedule_paused": paused}

        if key is None:
            return json_response(body(tw.trigger(name)), 201)
        outcome = tw.trigger_once(
            name,
            principal=principal.name,
            route=route_id(request),
            key=key,
            request_hash=request_hash,
            respond=lambda run: (201, body(run)),
        )
        if outcome.run is not None:
            return json_response(body(outcome.run), 201)
        assert outcome.stored is not None
        return replay(outcome.stored, request_hash, key)
