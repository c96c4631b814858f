"""A FastAPI service that runs its own scheduled task with tickwork.

    uvicorn examples.fastapi_service.app:app --workers 4

Every uvicorn worker runs a scheduler and a worker loop (``lifespan=tw.lifespan``); the
database makes each fire time run once however many processes and hosts do
(docs/embedding.md). tickwork's API, dashboard, /health, /ready and /metrics are under
/tickwork.

Environment: ``TICKWORK_DATABASE_URL`` (default ``sqlite:///tickwork.db``),
``REPORTS_FILE`` (where the task appends, default ``reports.log``), ``REPORT_EVERY``
(default ``1m``).
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI

from tickwork import TaskContext, Tickwork

REPORTS = Path(os.environ.get("REPORTS_FILE", "reports.log"))

tw = Tickwork()  # the settings come from TICKWORK_* environment variables


@tw.task(every=os.environ.get("REPORT_EVERY", "1m"), retries=2)
def write_report(context: TaskContext) -> None:
    """Append one line per fire time. The line starts with the idempotency key, the same on
    every attempt of a fire: a reader that keeps the first line per key sees each fire once
    even if an attempt was retried after a crash (at-least-once execution)."""
    line = f"{context.idempotency_key} pid={os.getpid()} attempt={context.attempt}\n"
    with REPORTS.open("a", encoding="utf-8") as out:  # one short O_APPEND write per line
        out.write(line)
    context.logger.info("report written for %s", context.nominal_fire.isoformat())


app = FastAPI(title="reports service", lifespan=tw.lifespan)
app.include_router(tw.router(), prefix="/tickwork")


@app.get("/reports/latest")
def latest_reports(limit: int = 10) -> dict[str, list[str]]:
    """The service's own endpoint: the newest lines the scheduled task wrote."""
    try:
        lines = REPORTS.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        lines = []
    return {"reports": lines[-limit:] if limit > 0 else []}
