"""``/health`` (liveness) and ``/ready`` (readiness). Neither needs a token.

- ``/health``: the process answers. Nothing else is checked, so a database outage never makes
  an orchestrator restart healthy processes.
- ``/ready``: the database answers, and the loops this process runs (scheduler, worker) are
  heartbeating: the process's row in ``tw_workers`` was stamped within one lease (the
  heartbeat comes every lease / 3). 503 with the reason otherwise, and while the process
  drains after SIGTERM. A process that only serves (``tickwork api``) checks the database.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from tickwork.events import STORE_UNAVAILABLE
from tickwork.model import WorkerInfo
from tickwork.web.observed import observed_route_class

if TYPE_CHECKING:
    from tickwork.app import Tickwork

__all__ = ["Readiness", "assess_loops", "build_health_router", "check_readiness"]

log = logging.getLogger("tickwork.web")

NO_STORE = {"Cache-Control": "no-store"}


@dataclass(frozen=True, slots=True)
class Readiness:
    ready: bool
    reason: str | None = None  # why not, for a person reading the 503
    checks: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        status = "ready" if self.ready else "not ready"
        out: dict[str, Any] = {"status": status, "checks": self.checks}
        if self.reason is not None:
            out["reason"] = self.reason
        return out


def assess_loops(
    roles: tuple[str, ...],
    own: WorkerInfo | None,
    now: datetime,
    stale_after: timedelta,
) -> str | None:
    """Why this process's loops are not heartbeating (None when they are, or none run)."""
    if not roles:
        return None
    loops = " and ".join(roles)
    if own is None:
        return f"{loops} not registered in the database yet (starting, or the row was lost)"
    age = now - own.heartbeat_at
    if age > stale_after:
        return (
            f"{loops} not heartbeating: last heartbeat {age.total_seconds():.0f} s ago, "
            f"more than the lease ({stale_after.total_seconds():.0f} s)"
        )
    return None


def check_readiness(tw: Tickwork) -> Readiness:
    """The database answers and this process's loops heartbeat (see the module doc)."""
    if tw.stopping:
        return Readiness(False, "stopping: draining running tasks", {"process": "stopping"})
    try:
        workers = tw.store.list_workers()
        now = tw.clock.now()
    except Exception as err:  # any failure to read is "not ready"
        # The store's message names the database (host, file): logged, never answered, as
        # /ready needs no token.
        log.warning(
            "/ready: the database cannot be read: %s", err, extra={"action": STORE_UNAVAILABLE}
        )
        retry = "retrying later can help" if getattr(err, "retryable", False) else "see the log"
        why = f"database unreachable ({type(err).__name__}; the process log says why); {retry}"
        return Readiness(False, why, {"database": "unreachable"})
    checks = {"database": "ok"}
    own = next((w for w in workers if w.id == tw.worker_id), None)
    reason = assess_loops(tw.roles, own, now, tw.settings.lease)
    checks["loops"] = "none in this process" if not tw.roles else ("stale" if reason else "ok")
    return Readiness(reason is None, reason, checks)


def build_health_router(tw: Tickwork) -> APIRouter:
    router = APIRouter(tags=["health"], route_class=observed_route_class(tw.metrics))

    @router.get("/health", summary="Liveness: the process answers")
    async def health() -> JSONResponse:
        return JSONResponse({"status": "ok"}, headers=NO_STORE)

    @router.get(
        "/ready",
        summary="Readiness: database reachable, loops heartbeating",
        responses={503: {"description": "Not ready; the body says why"}},
    )
    def ready() -> JSONResponse:  # sync: the store blocks, so it runs in the threadpool
        verdict = check_readiness(tw)
        return JSONResponse(
            verdict.body(), status_code=200 if verdict.ready else 503, headers=NO_STORE
        )

    return router
