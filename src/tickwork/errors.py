"""Errors raised by tickwork.

Every error says what failed, what was expected and whether retrying can help
(DESIGN.md, promise 6). Callers branch on ``retryable``; people read ``str(err)``.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "InvalidSpecError",
    "NotPermittedError",
    "RunNotFoundError",
    "ScheduleConflictError",
    "ScheduleNotFoundError",
    "StateConflictError",
    "StoreUnavailableError",
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


class ScheduleNotFoundError(TickworkError, LookupError):
    """No schedule has that name. Retrying cannot help until it is defined."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"no schedule named {name!r}; expected the name of a defined schedule")


class ScheduleConflictError(TickworkError):
    """A schedule name is owned by another source (config, code or api)."""

    def __init__(self, name: str, owner: str, source: str) -> None:
        self.name, self.owner, self.source = name, owner, source
        super().__init__(
            f"schedule {name!r} is defined by {owner}, not {source}; "
            "expected a name no other source uses"
        )


class RunNotFoundError(TickworkError, LookupError):
    def __init__(self, run_id: int) -> None:
        self.run_id = run_id
        super().__init__(f"no run with id {run_id}; expected the id of a stored run")


class StoreUnavailableError(TickworkError):
    """The database cannot be reached or is locked past the busy timeout. Retry later."""

    retryable = True


class ConfigError(TickworkError):
    """A configuration has problems; ``problems`` lists every one (schedule, key, value,
    expected). Nothing is applied while any remain."""

    def __init__(self, problems: list[InvalidSpecError], source: str = "config") -> None:
        self.problems = problems
        self.source = source
        lines = [f"{source}: {len(problems)} problem{'s' if len(problems) != 1 else ''}"]
        lines += [f"  {p}" for p in problems]
        super().__init__("\n".join(lines))


class StateConflictError(TickworkError):
    """The target exists but its current state forbids the operation (cancel a finished
    run, retry one that succeeded, a stale ``If-Match``). Retrying the same request cannot
    help until that state changes; ``expected`` says which state would allow it."""

    def __init__(self, message: str, expected: str, *, field: str = "state", got: object = None):
        self.field, self.expected, self.got = field, expected, got
        super().__init__(f"{message}; expected {expected}")


class NotPermittedError(TickworkError):
    """The operation is understood and refused by policy, whoever asks again: a command
    schedule through the API while ``api_commands`` is off, a change through the API to a
    schedule defined in config or code (the config stays the source of truth)."""

    def __init__(self, message: str, expected: str, *, field: str, got: object = None):
        self.field, self.expected, self.got = field, expected, got
        super().__init__(f"{message}; expected {expected}")
