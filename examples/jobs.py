"""Python tasks used by examples/tickwork.toml (run from the project root: `make run`)."""

from __future__ import annotations

import hashlib
import shutil

from tickwork.context import TaskContext


def flaky(context: TaskContext) -> None:
    """Fails on about half of its attempts, so `tickwork runs` shows retries. Whether an
    attempt fails is derived from its idempotency key and attempt number, so reruns of the
    same fire behave the same way."""
    digest = hashlib.sha256(f"{context.idempotency_key}#{context.attempt}".encode()).digest()
    if digest[0] % 2:
        raise RuntimeError(f"simulated failure on attempt {context.attempt} (retries follow)")
    context.logger.info("flaky task succeeded on attempt %s", context.attempt)


def disk_report(context: TaskContext) -> None:
    """Logs free space of the current directory's file system."""
    usage = shutil.disk_usage(".")
    context.logger.info("disk: %.1f GiB free of %.1f GiB", usage.free / 2**30, usage.total / 2**30)
