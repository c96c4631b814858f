"""``tickwork api --workers N``: N uvicorn processes serving one socket.

The parent reads the config, checks the database and binds the socket (so a bad config is
exit 2, an unreachable database or a taken port exit 3, before any process starts), then
uvicorn's supervisor starts N processes that each build the app from the same config
(``$TICKWORK_CONFIG``, set to the file the parent read) with a store of their own, restarts
one that dies, and stops them all on SIGINT/SIGTERM. Only the web side runs in them (no
scheduler or worker loop), so nothing needs draining: every process is interchangeable, as
the replicas of DESIGN.md are. Use it where one process's CPU is the limit.

What differs from one process: each process keeps its own memory of verified tokens (a
revocation takes effect within 5 s everywhere, ``tickwork.tokens.VERIFIED_TTL``), and
``/metrics`` shows the HTTP figures of the one process that answered the scrape.
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn
from uvicorn.supervisors import Multiprocess

if TYPE_CHECKING:
    from tickwork.app import Tickwork

__all__ = ["app_from_environment", "serve_processes"]

FACTORY = "tickwork.web.workers:app_from_environment"

log = logging.getLogger("tickwork.web")


def app_from_environment() -> Any:
    """The app of one worker process: ``create_app`` over the config at $TICKWORK_CONFIG
    (or the defaults and environment variables when none is set)."""
    from tickwork.app import Tickwork
    from tickwork.config import load_config
    from tickwork.logs import configure_logging
    from tickwork.web import create_app

    tw = Tickwork(config=load_config())
    configure_logging(tw.settings.log_level)
    _warm(tw)
    return create_app(tw)


def _warm(tw: Tickwork) -> None:
    """Open the store and read one schedule before serving: the first request of a process
    would otherwise pay for it (~0.5 s here: the schema check, the first statements). The
    parent checked the database already; a failure here is left to the requests, which
    report it as they would anyway."""
    from tickwork.errors import StoreUnavailableError

    try:
        tw.schedule_page(after=None, limit=1)
    except StoreUnavailableError as err:
        log.warning("could not warm the store up before serving: %s", err)


def serve_processes(
    sock: socket.socket, workers: int, *, config_path: Path | None, log_level: str
) -> None:
    """Serve ``app_from_environment`` from ``workers`` processes on the bound ``sock``
    until SIGINT/SIGTERM (uvicorn's supervisor handles the signals)."""
    if config_path is not None:
        os.environ["TICKWORK_CONFIG"] = str(config_path.resolve())
    config = uvicorn.Config(
        FACTORY,
        factory=True,
        workers=workers,
        log_level=log_level,
        access_log=log_level == "debug",
        lifespan="on",  # create_app's: it sizes the thread pool (api_threads)
    )
    sock.set_inheritable(True)
    Multiprocess(config, sockets=[sock]).run()
