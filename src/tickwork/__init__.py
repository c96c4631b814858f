"""tickwork: scheduled tasks that keep their promises.

``from tickwork import Tickwork`` is the entry point; it is imported on first use so that
``tickwork next`` and the pure triggers do not load the engine and SQLAlchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tickwork.errors import ConfigError, InvalidSpecError, TickworkError

if TYPE_CHECKING:
    from tickwork.app import Tickwork
    from tickwork.context import TaskContext

__all__ = [
    "ConfigError",
    "InvalidSpecError",
    "TaskContext",
    "Tickwork",
    "TickworkError",
    "__version__",
]

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "Tickwork":
        from tickwork.app import Tickwork

        return Tickwork
    if name == "TaskContext":
        from tickwork.context import TaskContext

        return TaskContext
    raise AttributeError(f"module 'tickwork' has no attribute {name!r}")
