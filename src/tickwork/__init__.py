"""tickwork: scheduled tasks that keep their promises."""

from __future__ import annotations

from tickwork.errors import InvalidSpecError, TickworkError

__all__ = ["InvalidSpecError", "TickworkError", "__version__"]

__version__ = "0.1.0"
