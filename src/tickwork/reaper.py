"""Reaper: runs whose worker died (lease expired) are taken back and retried (promise 3)."""

from __future__ import annotations

import logging
from datetime import datetime

from tickwork import events
from tickwork.model import Run
from tickwork.store.base import Store

__all__ = ["Reaper"]

log = logging.getLogger("tickwork.reaper")


class Reaper:
    def __init__(self, store: Store, *, batch: int = 500) -> None:
        self.store = store
        self.batch = batch

    def run_once(self, now: datetime) -> list[Run]:
        reclaimed = self.store.reclaim_expired(now, self.batch)
        for run in reclaimed:
            log.warning(
                "lease expired; run %s",
                "requeued" if run.state == "queued" else "failed",
                extra={
                    "action": events.RUN_LEASE_EXPIRED,
                    "run_id": run.id,
                    "schedule": run.schedule,
                    "attempt": run.attempt,
                    "nominal_fire": run.nominal_fire.isoformat(),
                    "state": run.state,
                },
            )
        return reclaimed
