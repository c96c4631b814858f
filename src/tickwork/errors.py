"""Errors raised by tickwork.

Every error says what failed, what was expected and whether retrying can help
(DESIGN.md, promise 6). Callers branch on ``retryable``; people read ``str(err)``.
"""

from __future__ import annotations

__all__ = [
    "InvalidSpecError",
    "TickworkError",
]


class TickworkError(Exception):
    """Base class of every error tickwork raises on purpose."""

    retryable: bool = False


class InvalidSpecError(TickworkError, ValueError):
    """A schedule definition (cron expression, zone, duration, bound, ...) is invalid.

    ``field`` names the part that failed (``minute``, ``day-of-week``, ``step``, ``tz``,
    ``every``, ``start_at``...), ``value`` is what was given and ``expected`` the allowed
    range or form. Retrying the same input cannot help, so ``retryable`` is False.
    """

    retryable = False

    def __init__(
        self,
        field: str,
        value: object,
        expected: str,
        *,
        message: str | None = None,
        source: str | None = None,
    ) -> None:
        self.field = field
        self.value = value
        self.expected = expected
        self.source = source
        self.message = message or f"invalid {field} {value!r}"
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = f" in {self.source!r}" if self.source else ""
        return f"{self.message}{where}; expected {self.expected}"

    def with_source(self, source: str) -> InvalidSpecError:
        """The same error, saying which whole input it came from."""
        return InvalidSpecError(
            self.field, self.value, self.expected, message=self.message, source=source
        )
