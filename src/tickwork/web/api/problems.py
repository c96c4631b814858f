"""RFC 9457 problem documents: every error of the API (and of the dashboard's JSON) is one.

    {"type": "urn:tickwork:problem:invalid-input", "title": "Invalid input", "status": 422,
     "detail": "...", "instance": "/api/v1/schedules", "retryable": false,
     "errors": [{"field": "cron", "message": "...", "expected": "...", "got": "61 * * * *"}]}

``problem_response`` builds one; ``problem_for`` maps an exception (tickwork's errors,
FastAPI's validation errors, ``HTTPException``) to one. Media type
``application/problem+json``, ``Cache-Control: no-store``.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from tickwork.errors import (
    ConfigError,
    InvalidSpecError,
    NotPermittedError,
    RunNotFoundError,
    ScheduleConflictError,
    ScheduleNotFoundError,
    StateConflictError,
    StoreUnavailableError,
    TickworkError,
)

__all__ = [
    "PROBLEM_MEDIA_TYPE",
    "PROBLEM_RESPONSES",
    "FieldError",
    "problem_for",
    "problem_response",
]

log = logging.getLogger("tickwork.api")

PROBLEM_MEDIA_TYPE = "application/problem+json"
RETRY_AFTER_SECONDS = 5  # StoreUnavailableError: the store retries for about this long itself
GOT_LIMIT = 500  # characters of a rejected value echoed back

TITLES = {
    400: "Malformed request",
    401: "Authentication required",
    403: "Not permitted",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    412: "Precondition failed",
    422: "Invalid input",
    500: "Internal error",
    503: "Service unavailable",
}
SLUGS = {
    400: "malformed-request",
    401: "unauthenticated",
    403: "not-permitted",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    412: "precondition-failed",
    422: "invalid-input",
    500: "internal-error",
    503: "unavailable",
}


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "retryable", "errors"],
    "properties": {
        "type": {"type": "string", "examples": ["urn:tickwork:problem:invalid-input"]},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "retryable": {"type": "boolean"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message", "expected", "got"],
                "properties": {
                    "field": {"type": "string"},
                    "message": {"type": "string"},
                    "expected": {"type": "string"},
                    "got": {},
                },
            },
        },
    },
}
# The error answers every route documents (OpenAPI), instead of FastAPI's default 422 shape.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {
        "description": TITLES[status],
        "content": {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_SCHEMA}},
    }
    for status in (400, 401, 403, 404, 409, 412, 422, 503)
}


@dataclass(frozen=True, slots=True)
class FieldError:
    """What was wrong with one part of the request."""

    field: str
    message: str
    expected: str
    got: Any = None

    def as_json(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "message": self.message,
            "expected": self.expected,
            "got": json_safe(self.got),
        }


def problem_response(
    status: int,
    detail: str,
    *,
    errors: Sequence[FieldError] = (),
    retryable: bool = False,
    instance: str | None = None,
    title: str | None = None,
    slug: str | None = None,
    headers: Mapping[str, str] | None = None,
    retry_after: int | None = None,
) -> Response:
    """An ``application/problem+json`` response (``Cache-Control: no-store``)."""
    body: dict[str, Any] = {
        "type": f"urn:tickwork:problem:{slug or SLUGS.get(status, 'error')}",
        "title": title or TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "retryable": retryable,
        "errors": [e.as_json() for e in errors],
    }
    if instance is not None:
        body["instance"] = instance
    out = {"Cache-Control": "no-store", **(headers or {})}
    if retry_after is not None:
        out["Retry-After"] = str(retry_after)
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(content, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=out)


def problem_for(exc: Exception, *, instance: str | None = None) -> Response | None:
    """The problem document for ``exc``, or None for an exception that is a bug (the
    caller logs it and answers 500)."""
    if isinstance(exc, RequestValidationError):
        return _validation_problem(exc, instance)
    if isinstance(exc, HTTPException):
        headers = dict(exc.headers or {})
        detail = exc.detail if isinstance(exc.detail, str) else json.dumps(json_safe(exc.detail))
        return problem_response(exc.status_code, detail, instance=instance, headers=headers)
    if not isinstance(exc, TickworkError):
        return None
    if isinstance(exc, ConfigError):
        errors = [_spec_error(p) for p in exc.problems]
        return problem_response(422, str(exc), errors=errors, instance=instance)
    if isinstance(exc, InvalidSpecError):
        return problem_response(422, str(exc), errors=[_spec_error(exc)], instance=instance)
    if isinstance(exc, ScheduleNotFoundError):
        err = FieldError("name", str(exc), "the name of a defined schedule", exc.name)
        return problem_response(404, str(exc), errors=[err], instance=instance)
    if isinstance(exc, RunNotFoundError):
        err = FieldError("id", str(exc), "the id of a stored run", exc.run_id)
        return problem_response(404, str(exc), errors=[err], instance=instance)
    if isinstance(exc, ScheduleConflictError):
        err = FieldError("name", str(exc), "a name no other source uses", exc.name)
        return problem_response(409, str(exc), errors=[err], instance=instance)
    if isinstance(exc, StateConflictError):
        err = FieldError(exc.field, str(exc), exc.expected, exc.got)
        status = 412 if exc.field == "If-Match" else 409
        return problem_response(status, str(exc), errors=[err], instance=instance)
    if isinstance(exc, NotPermittedError):
        err = FieldError(exc.field, str(exc), exc.expected, exc.got)
        return problem_response(403, str(exc), errors=[err], instance=instance)
    if isinstance(exc, StoreUnavailableError):
        # The full message names the database (host, file): logged, never sent, since
        # this can answer a request whose token could not even be checked yet.
        log.warning("answered 503: %s", exc, extra={"action": "api_store_unavailable"})
        return problem_response(
            503,
            "the database is unavailable or busy; retrying later can help",
            retryable=True,
            instance=instance,
            retry_after=RETRY_AFTER_SECONDS,
        )
    return problem_response(
        503 if exc.retryable else 422, str(exc), retryable=exc.retryable, instance=instance
    )


def _spec_error(err: InvalidSpecError) -> FieldError:
    return FieldError(err.field, err.message, err.expected, err.value)


# Pydantic error types -> the expected form, said as the rest of tickwork says it.
EXPECTED = {
    "int_parsing": "a whole number",
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "text",
    "float_parsing": "a number",
    "enum": "one of {expected}",
    "literal_error": "one of {expected}",
    "greater_than_equal": "a number >= {ge}",
    "greater_than": "a number > {gt}",
    "less_than_equal": "a number <= {le}",
    "less_than": "a number < {lt}",
    "string_too_short": "at least {min_length} characters",
    "string_too_long": "at most {max_length} characters",
    "string_pattern_mismatch": "text matching {pattern}",
    "missing": "a value (this field is required)",
    "dict_type": "a JSON object",
    "model_attributes_type": "a JSON object",
    "list_type": "a list",
    "json_invalid": "a JSON object",
    "extra_forbidden": "no such field (it is not one the endpoint takes)",
}


def _validation_problem(exc: RequestValidationError, instance: str | None) -> Response:
    errors = []
    malformed = False
    for item in exc.errors():
        loc = [str(p) for p in item.get("loc", ())]
        where = loc[0] if loc else "request"
        # A parameter is named as the client sent it (``state``, not ``state.0``); a body
        # field by its path in the document.
        field = (loc[1] if where != "body" else ".".join(loc[1:])) if len(loc) > 1 else where
        kind = str(item.get("type", ""))
        if kind == "json_invalid":
            # FastAPI puts the character position where a field name goes: ("body", 9).
            errors.append(_json_error(item, loc))
            malformed = True
            continue
        template = EXPECTED.get(kind, "a valid value")
        try:
            expected = template.format(**(item.get("ctx") or {}))
        except (KeyError, IndexError, ValueError):
            expected = template
        message = f"{where} {field!r}: {item.get('msg', 'invalid')}"
        got = item.get("input") if kind != "missing" else None
        errors.append(FieldError(field, message, expected, got))
    status = 400 if malformed else 422
    detail = (
        "the request body is not a JSON document"
        if malformed
        else "; ".join(e.message for e in errors) or "invalid request"
    )
    return problem_response(status, detail, errors=errors, instance=instance)


def _json_error(item: Mapping[str, Any], loc: list[str]) -> FieldError:
    position = loc[1] if len(loc) > 1 else None
    reason = str((item.get("ctx") or {}).get("error") or "not valid JSON")
    where = f" at character {position}" if position is not None else ""
    message = f"body: JSON decode error{where}: {reason}"
    return FieldError("body", message, EXPECTED["json_invalid"], None)


def json_safe(value: Any) -> Any:
    """``value`` as JSON can carry it: long text cut, other objects as text, NaN as text."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return value if len(value) <= GOT_LIMIT else value[:GOT_LIMIT] + "…"
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in list(value.items())[:50]}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value[:50]]
    if isinstance(value, bytes):
        return json_safe(value.decode("utf-8", "replace"))
    return json_safe(str(value))
