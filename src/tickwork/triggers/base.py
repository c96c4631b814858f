"""The trigger interface."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

__all__ = ["Trigger"]


class Trigger(Protocol):
    """When a schedule fires. Pure: no clock, no I/O, no hidden state.

    ``next_after`` returns the first nominal fire strictly after ``instant`` (aware), as an
    aware datetime, or None when the trigger will never fire again.
    """

    def next_after(self, instant: datetime) -> datetime | None: ...
