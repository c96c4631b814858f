"""``tickwork api``: serve the HTTP API, dashboard, /health, /ready and /metrics without
running the scheduler or worker loops; and the web serving ``tickwork run`` shares."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import click

from tickwork.app import Tickwork
from tickwork.cli.common import (
    EXIT_UNAVAILABLE,
    config_option,
    errors_to_exit_codes,
    fail,
    load_app,
)
from tickwork.logs import configure_logging

__all__ = ["api_command", "host_option", "port_option", "serving"]

host_option = click.option(
    "--host",
    default=None,
    help="Address to listen on (default: [tickwork] api_host, 127.0.0.1).",
)
port_option = click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help="TCP port (default: [tickwork] api_port, 8000; 0 picks a free one, logged).",
)


@contextmanager
def serving(
    tw: Tickwork, host: str | None, port: int | None, *, wait: bool = False
) -> Iterator[None]:
    """Serve ``create_app(tw)`` in a thread while the block runs; stop it afterwards. The
    socket is bound first: an address that cannot be listened on is exit code 3. The app is
    built in the server's thread; ``wait`` waits for its startup (exit 3 when it fails)."""
    from tickwork.web.server import WebServer

    def build() -> object:
        from tickwork.web import create_app

        return create_app(tw)

    server = WebServer(
        build,
        host or tw.settings.api_host,
        tw.settings.api_port if port is None else port,
        log_level=tw.settings.log_level,
        factory=True,
    )
    try:
        server.start()
    except OSError as err:
        tw.close()
        fail(f"cannot listen on {server.url}: {err.strerror or err}", EXIT_UNAVAILABLE)
    if wait and not server.wait_started():
        server.stop()
        tw.close()
        fail(f"the web server on {server.url} did not start (see the log above)", EXIT_UNAVAILABLE)
    try:
        yield
    finally:
        server.stop()


@click.command("api")
@config_option
@host_option
@port_option
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Processes serving the one socket (each with its own database connections); "
    "more than one where a single process's CPU is the limit.",
)
def api_command(config_path: str | None, host: str | None, port: int | None, workers: int) -> None:
    """Serve the HTTP API and dashboard (and /health, /ready, /metrics) until SIGINT/SIGTERM,
    without the scheduler or worker loops; run those with `tickwork scheduler` and
    `tickwork worker` (or `tickwork run --no-web`) against the same database."""
    stop = threading.Event()
    # The handlers from the first line of the command: a stop asked for while it loads
    # (config, tasks, the web framework, the database check) or while the server starts
    # ends it with exit 0 once that step is done, rather than killing it half-way.
    with _until_signal(stop):
        tw = load_app(config_path)
        configure_logging(tw.settings.log_level)
        if workers > 1:
            _serve_processes(tw, host, port, workers, stop)
            return
        with errors_to_exit_codes():
            try:
                tw.store  # the schema is migrated; an unreachable database is exit 3  # noqa: B018
                if stop.is_set():
                    return
                with serving(tw, host, port, wait=True):
                    while not stop.wait(0.5):  # a signal handler sets it
                        pass
            finally:
                tw.close()


def _serve_processes(
    tw: Tickwork, host: str | None, port: int | None, workers: int, stop: threading.Event
) -> None:
    """``--workers N``: check the database and bind here, then N processes serve."""
    from tickwork.web.server import bind
    from tickwork.web.workers import serve_processes

    address = host or tw.settings.api_host
    wanted = tw.settings.api_port if port is None else port
    with errors_to_exit_codes():
        try:
            tw.store  # migrated, and an unreachable database is exit 3  # noqa: B018
        finally:
            tw.close()
    try:
        sock = bind(address, wanted)
    except OSError as err:
        fail(f"cannot listen on {address}:{wanted}: {err.strerror or err}", EXIT_UNAVAILABLE)
    try:
        if stop.is_set():  # asked to stop while checking: never start the processes
            return
        host_text = f"[{address}]" if ":" in address else address
        click.echo(
            f"serving HTTP on http://{host_text}:{sock.getsockname()[1]} from {workers} processes",
            err=True,
        )
        serve_processes(
            sock, workers, config_path=tw.settings.path, log_level=tw.settings.log_level
        )
    finally:
        sock.close()


@contextmanager
def _until_signal(stop: threading.Event) -> Iterator[None]:
    def handler(_signum: int, _frame: object) -> None:
        stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
