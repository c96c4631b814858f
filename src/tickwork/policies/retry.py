"""Retry policy: exponential backoff with deterministic jitter and a cap."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = ["RetryPolicy", "next_attempt_at"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 1  # retries + 1
    backoff: timedelta = timedelta(seconds=10)  # delay before the 2nd attempt
    backoff_max: timedelta = timedelta(minutes=10)
    jitter: float = 0.5  # up to this fraction of the delay is randomised (0 = exact)

    def should_retry(self, attempt: int) -> bool:
        """Whether a failed ``attempt`` (1-based) is followed by another."""
        return attempt < self.max_attempts


def next_attempt_at(now: datetime, attempt: int, policy: RetryPolicy, seed: str) -> datetime:
    """When the attempt after failed ``attempt`` starts: ``backoff * 2**(attempt-1)``, capped
    at ``backoff_max``, minus a jitter share drawn from ``seed`` (the same seed gives the same
    delay, so a test can assert it exactly)."""
    base: timedelta = policy.backoff * (2 ** max(0, attempt - 1))
    delay = min(base, policy.backoff_max)
    if policy.jitter > 0:
        digest = hashlib.blake2b(f"{seed}#{attempt}".encode(), digest_size=8).digest()
        fraction = int.from_bytes(digest, "big") / 2**64
        delay = delay - delay * (policy.jitter * fraction)
    return now + delay
