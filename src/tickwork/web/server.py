"""uvicorn in a thread of a tickwork process (``tickwork run``, ``tickwork api``).

The server runs in a thread of its own so that the main thread keeps tickwork's signal
handling and drain (``Tickwork.run``): on SIGTERM the engine stops claiming, running tasks get
``stop_grace``, and only then is the web server told to exit, so ``/health`` answers and
``/ready`` says "stopping" while the process drains. (uvicorn installs signal handlers only in
the main thread, so in this one it leaves them to tickwork.)

The socket is bound before the thread starts: a port in use is an ``OSError`` the command
reports at once, and ``port=0`` picks a free port that ``port`` then tells.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any

import uvicorn

from tickwork import events

__all__ = ["WebServer", "bind"]

log = logging.getLogger("tickwork.web")
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


class WebServer:
    """``WebServer(app, host, port).start()`` ... ``.stop()``; ``stop`` waits for the open
    requests (``graceful_timeout`` real seconds at most, then the connections are closed).
    With ``factory=True``, ``app`` is a function that builds the app in the server's thread
    (the FastAPI imports then overlap with the engine's start instead of delaying it)."""

    def __init__(
        self,
        app: Any,
        host: str = "127.0.0.1",
        port: int = 8000,
        *,
        log_level: str = "info",
        graceful_timeout: float = 10.0,
        factory: bool = False,
    ) -> None:
        self.host, self.requested_port = host, port
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        adopt_uvicorn_logs(log_level)
        self.server = uvicorn.Server(
            uvicorn.Config(
                app,
                log_config=None,  # tickwork's handlers (adopt_uvicorn_logs), not uvicorn's own
                log_level=log_level,
                access_log=log_level == "debug",
                timeout_graceful_shutdown=int(graceful_timeout),
                lifespan="auto",
                factory=factory,
            )
        )

    @property
    def port(self) -> int:
        """The port listened on (the one picked when 0 was asked for)."""
        if self._sock is None:
            return self.requested_port
        return int(self._sock.getsockname()[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        """Bind (``OSError`` when the address is taken or not ours) and serve in a thread."""
        sock = bind(self.host, self.requested_port)
        self._sock = sock
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, name="tickwork-web", daemon=True
        )
        self._thread.start()
        log.info("serving HTTP on %s", self.url, extra={"action": events.WEB_STARTED})

    def wait_started(self, timeout: float = 10.0) -> bool:
        """Whether uvicorn finished its startup within ``timeout`` real seconds (False also
        when it failed and its thread ended): a bound on startup, not a wait on a schedule."""
        deadline = time.monotonic() + timeout
        while not self.server.started and time.monotonic() < deadline:
            if self._thread is None or not self._thread.is_alive():
                break
            time.sleep(0.02)
        return bool(self.server.started)

    def stop(self) -> None:
        self.server.should_exit = True
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join((self.server.config.timeout_graceful_shutdown or 10) + 5)
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        log.info("HTTP server stopped", extra={"action": events.WEB_STOPPED})


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on (host, port), inheritable (``OSError`` when the address is
    taken or not ours; port 0 picks a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP
    # (accepted ones copy this), and without it a response in two writes waits for the
    # client's delayed ACK: 40 ms per request on a kept-alive connection.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def adopt_uvicorn_logs(level: str) -> None:
    """uvicorn's loggers write through tickwork's handlers (JSON lines when not a TTY)."""
    handlers = logging.getLogger("tickwork").handlers
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        if _drop_color not in logger.filters:
            logger.addFilter(_drop_color)
        if handlers:
            logger.handlers[:] = list(handlers)
            logger.propagate = False
        logger.setLevel(level.upper())


def _drop_color(record: logging.LogRecord) -> bool:
    """uvicorn's records carry an ANSI-coloured copy of the message; the logs keep one."""
    record.__dict__.pop("color_message", None)
    return True
