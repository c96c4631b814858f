from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tickwork.context import TASK_LOGGER, TaskContext, call_task, wants_context

from .support import FIRE

CONTEXT = TaskContext.create(7, "nightly", 2, FIRE)


def no_parameters() -> str:
    return "bare"


def one_positional(c: TaskContext) -> TaskContext:
    return c


def named_ctx_keyword_only(*, ctx: TaskContext) -> TaskContext:
    return ctx


def named_context_with_default(x: int = 1, context: TaskContext | None = None) -> Any:
    return context


def only_optional(x: int = 1) -> int:
    return x


def positional_only(c: TaskContext, /) -> TaskContext:
    return c


class Job:
    def method(self, c: TaskContext) -> TaskContext:
        return c

    def __call__(self) -> str:
        return "bare"


def two_required(a: int, b: int) -> None:
    raise AssertionError("never called")


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (no_parameters, None),
        (one_positional, "positional"),
        (named_ctx_keyword_only, "keyword:ctx"),
        (named_context_with_default, "keyword:context"),
        (only_optional, None),
        (positional_only, "positional"),
        (Job().method, "positional"),
        (Job(), None),
        (functools.partial(named_context_with_default, 5), "keyword:context"),
        (lambda *args, **kwargs: None, None),
    ],
    ids=[
        "no-parameters",
        "one-positional",
        "ctx-keyword-only",
        "context-after-a-default",
        "only-optional",
        "positional-only",
        "bound-method",
        "callable-object",
        "partial",
        "var-args",
    ],
)
def test_wants_context(target: Callable[..., Any], expected: str | None) -> None:
    assert wants_context(target) == expected


@pytest.mark.parametrize(
    "target",
    [one_positional, named_ctx_keyword_only, named_context_with_default, positional_only],
    ids=["positional", "ctx", "context", "positional-only"],
)
def test_call_task_passes_the_context(target: Callable[..., Any]) -> None:
    assert call_task(target, CONTEXT) is CONTEXT


def test_call_task_calls_bare_when_nothing_asks_for_the_context() -> None:
    assert call_task(no_parameters, CONTEXT) == "bare"
    assert call_task(only_optional, CONTEXT) == 1
    assert call_task(Job(), CONTEXT) == "bare"


def test_call_task_lets_a_bad_signature_fail_as_a_type_error() -> None:
    with pytest.raises(TypeError):
        call_task(two_required, CONTEXT)


def test_create_derives_the_idempotency_key_and_normalises_to_utc() -> None:
    berlin = timezone(timedelta(hours=1))
    context = TaskContext.create(1, "nightly", 1, datetime(2024, 3, 5, 3, 0, tzinfo=berlin))

    assert context.nominal_fire == FIRE
    assert context.nominal_fire.tzinfo is not None
    assert context.nominal_fire.utcoffset() == timedelta(0)
    assert context.idempotency_key == "nightly@2024-03-05T02:00:00+00:00"
    assert not context.cancelled.is_set()


def test_create_keeps_a_given_cancel_flag() -> None:
    flag = threading.Event()

    assert TaskContext.create(1, "s", 1, FIRE, cancelled=flag).cancelled is flag


def test_the_logger_carries_the_run_fields_and_the_callers_extra(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger=TASK_LOGGER):
        CONTEXT.logger.info("deleted %d rows", 3, extra={"table": "sessions"})

    [record] = caplog.records
    assert record.name == TASK_LOGGER
    assert record.getMessage() == "deleted 3 rows"
    assert record.__dict__["run_id"] == 7
    assert record.__dict__["schedule"] == "nightly"
    assert record.__dict__["attempt"] == 2
    assert record.__dict__["nominal_fire"] == "2024-03-05T02:00:00+00:00"
    assert record.__dict__["table"] == "sessions"
