"""The task registry: names of Python callables that schedules may run."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from tickwork.errors import InvalidSpecError

__all__ = ["TaskRegistry", "task_name"]


def task_name(fn: Callable[..., Any]) -> str:
    """``module:qualname``, the reference a stored schedule keeps for a callable."""
    qualname = getattr(fn, "__qualname__", type(fn).__qualname__)
    return f"{fn.__module__}:{qualname}"


class TaskRegistry:
    """Callables registered in code, plus import of ``module:function`` references."""

    def __init__(self) -> None:
        self._tasks: dict[str, Callable[..., Any]] = {}

    def register(self, name: str, fn: Callable[..., Any]) -> None:
        existing = self._tasks.get(name)
        if existing is not None and existing is not fn:
            raise InvalidSpecError(
                "task",
                name,
                "a task name registered once",
                message=f"task {name!r} is already registered to {task_name(existing)}",
            )
        self._tasks[name] = fn

    def names(self) -> list[str]:
        return sorted(self._tasks)

    def __contains__(self, name: object) -> bool:
        return name in self._tasks

    def resolve(self, ref: str) -> Callable[..., Any]:
        """The callable for a registered name or an importable ``module:function``."""
        if ref in self._tasks:
            return self._tasks[ref]
        module_name, sep, attr = ref.partition(":")
        if not sep:
            raise InvalidSpecError(
                "task",
                ref,
                "'module:function' or a task registered in code",
                message=f"unknown task {ref!r}",
            )
        try:
            target: Any = importlib.import_module(module_name)
            for part in attr.split("."):
                target = getattr(target, part)
        except (ImportError, AttributeError) as err:
            raise InvalidSpecError(
                "task",
                ref,
                "'module:function' importable by the worker",
                message=f"cannot import task {ref!r}: {err}",
            ) from None
        if not callable(target):
            raise InvalidSpecError("task", ref, "a callable", message=f"{ref!r} is not callable")
        self._tasks[ref] = target
        return target  # type: ignore[no-any-return]
