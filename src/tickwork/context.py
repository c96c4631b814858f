"""What a task sees of its run: ids, the idempotency key, a bound logger, a cancel flag.

A task that takes one parameter (or one named ``context``/``ctx``) receives a
``TaskContext``; ``call_task`` decides how to call it. Tasks that run for long should poll
``context.cancelled.is_set()``: it is set on timeout, on cancel and on SIGTERM (isolated
runs), and it is the only way to stop a thread that cannot be killed.
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tickwork.model import idempotency_key as make_idempotency_key

__all__ = ["TASK_LOGGER", "TaskContext", "call_task"]

TASK_LOGGER = "tickwork.task"  # the logger every task's ``context.logger`` wraps
_CONTEXT_NAMES = ("context", "ctx")
_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


class _TaskLoggerAdapter(logging.LoggerAdapter[logging.Logger]):
    """Binds the run's fields and keeps any ``extra=`` the task passes (the stock
    adapter of Python 3.11 replaces a call's ``extra`` with its own)."""

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        bound: Mapping[str, object] = self.extra or {}
        kwargs["extra"] = {**bound, **kwargs.get("extra", {})}
        return msg, kwargs


def _bind_logger(
    run_id: int, schedule: str, attempt: int, nominal_fire: datetime
) -> logging.LoggerAdapter[logging.Logger]:
    extra = {
        "run_id": run_id,
        "schedule": schedule,
        "attempt": attempt,
        "nominal_fire": nominal_fire.astimezone(UTC).isoformat(),
    }
    return _TaskLoggerAdapter(logging.getLogger(TASK_LOGGER), extra)


@dataclass(frozen=True, slots=True, eq=False)
class TaskContext:
    """The run a task is executing. The same ``idempotency_key`` on every attempt
    (DESIGN.md, promise 3): use it to make effects exactly-once."""

    run_id: int
    schedule: str
    attempt: int
    nominal_fire: datetime  # aware, UTC
    idempotency_key: str  # "<schedule>@<nominal fire, UTC ISO>"
    logger: logging.LoggerAdapter[logging.Logger] = field(repr=False)
    cancelled: threading.Event = field(repr=False)

    @classmethod
    def create(
        cls,
        run_id: int,
        schedule: str,
        attempt: int,
        nominal_fire: datetime,
        idempotency_key: str | None = None,
        *,
        cancelled: threading.Event | None = None,
        logger: logging.LoggerAdapter[logging.Logger] | None = None,
    ) -> TaskContext:
        """A context with the logger bound to the run's fields and a fresh cancel flag,
        unless given. ``idempotency_key`` defaults to the one derived from the fields."""
        nominal_fire = nominal_fire.astimezone(UTC)
        return cls(
            run_id=run_id,
            schedule=schedule,
            attempt=attempt,
            nominal_fire=nominal_fire,
            idempotency_key=idempotency_key or make_idempotency_key(schedule, nominal_fire),
            logger=logger or _bind_logger(run_id, schedule, attempt, nominal_fire),
            cancelled=cancelled if cancelled is not None else threading.Event(),
        )


def wants_context(target: Callable[..., Any]) -> str | None:
    """How ``target`` takes the context: ``"positional"``, ``"keyword:<name>"`` or None.

    A parameter named ``context`` or ``ctx`` gets it by name; otherwise a callable whose
    only required parameter is its first positional one gets it positionally. A callable
    without required parameters is called with none.
    """
    try:
        return _WANTS[target]
    except KeyError:
        how = _WANTS[target] = _wants_context(target)
        if len(_WANTS) > _WANTS_KEPT:  # tasks are few; a bound, not an eviction policy
            _WANTS.clear()
        return how
    except TypeError:  # an unhashable callable: looked at each time
        return _wants_context(target)


# target -> wants_context(target): an inspect.signature per run costs ~10 µs.
_WANTS: dict[Callable[..., Any], str | None] = {}
_WANTS_KEPT = 1024


def _wants_context(target: Callable[..., Any]) -> str | None:
    try:
        parameters = list(inspect.signature(target).parameters.values())
    except (TypeError, ValueError):  # builtins without a signature: call them bare
        return None
    for index, param in enumerate(parameters):
        if param.name in _CONTEXT_NAMES:
            if param.kind is inspect.Parameter.POSITIONAL_ONLY:
                return "positional" if index == 0 else None
            if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
                continue
            return f"keyword:{param.name}"
    positional = [p for p in parameters if p.kind in _POSITIONAL]
    required = [p for p in positional if p.default is inspect.Parameter.empty]
    if len(required) == 1 and positional[0] is required[0]:
        return "positional"
    return None


def call_task(target: Callable[..., Any], context: TaskContext) -> Any:
    """Call ``target(context)`` when it takes the context (see ``wants_context``), else
    ``target()``. Returns what the target returns (a coroutine for ``async def``)."""
    how = wants_context(target)
    if how == "positional":
        return target(context)
    if how is not None:
        return target(**{how.removeprefix("keyword:"): context})
    return target()
