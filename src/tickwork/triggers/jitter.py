"""Deterministic jitter: the due time moves, the nominal fire time (and the key) never do."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

__all__ = ["jitter_offset", "jittered"]


def jitter_offset(seed: str, nominal: datetime, jitter: timedelta) -> timedelta:
    """An offset in [0, jitter], the same for the same (seed, nominal instant) everywhere."""
    if jitter <= timedelta(0):
        return timedelta(0)
    key = f"{seed}@{nominal.astimezone(UTC).isoformat()}".encode()
    digest = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big")
    span = jitter // timedelta(microseconds=1)
    return timedelta(microseconds=digest % (span + 1))


def jittered(seed: str, nominal: datetime, jitter: timedelta) -> datetime:
    """The due time of a fire: its nominal instant plus its jitter offset."""
    # In UTC: adding to a ZoneInfo datetime is wall-time arithmetic (it drops fold and
    # crosses DST changes by the wrong amount). The due time keeps the nominal's zone.
    due = nominal.astimezone(UTC) + jitter_offset(seed, nominal, jitter)
    return due.astimezone(nominal.tzinfo)
