"""Workload ``api``: latency of ``GET /api/v1/schedules`` at 50 concurrent connections.

``tickwork api`` (a subprocess of this one; real uvicorn, one worker process, then two:
``--workers``) serves the API over a store holding 100 schedules; ``wrk -t2 -c50 --latency``
(Debian's ``wrk``) drives it with a read token for ``DURATION`` seconds after a warm-up, and
``wrk -c1`` before that gives the service time of one request alone. Without wrk, an
asyncio httpx load generator in a separate process does the same (50 connections, each
request timed). Target: p99 at most 20 ms. The listing is the API's default page (50
schedules, about 29 KiB of JSON).

Run: ``python -m bench api [--store postgres]``. The figures depend on the machine and on
what else runs on it; the report prints the command and the load tool.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from bench.harness import postgres_base_url, postgres_unreachable, python_command
from bench.report import Options, Report, Row

TARGET_P99_MS = 20.0
SCHEDULES = 100
CONNECTIONS = 50
DURATION = 10  # seconds measured
WARMUP = 2  # seconds, not measured
PATH = "/api/v1/schedules"
WORKERS = (1, 2)  # uvicorn processes: one, and one per core of a small machine
ROOT = Path(__file__).resolve().parents[1]


def run(options: Options) -> Report:
    tool = "wrk" if shutil.which("wrk") else "httpx (asyncio, separate process)"
    measured: dict[int, tuple[dict[str, float], dict[str, float]]] = {}
    if options.store == "postgres" and (reason := postgres_unreachable()) is not None:
        report = Report(
            workload="api",
            target=f"GET {PATH} p99 <= {TARGET_P99_MS:.0f} ms at {CONNECTIONS} connections",
            command=f"{python_command()} -m bench api --store postgres",
        )
        report.notes.append(f"SKIPPED: {reason}")
        return report
    with ExitStack() as stack:
        url = stack.enter_context(_database(options.store))
        token = _prepare(url)
        for workers in WORKERS:
            with _uvicorn(url, workers) as base:
                _load(base, token, WARMUP, CONNECTIONS)  # warm-up: connections, caches, pools
                # The warm-up's last requests are still being answered when its load tool
                # has gone: let them drain, or the one-connection run below measures them.
                time.sleep(1)
                serial = _load(base, token, DURATION // 2, 1)
                measured[workers] = serial, _load(base, token, DURATION, CONNECTIONS)
    report = Report(
        workload="api",
        target=f"GET {PATH} p99 <= {TARGET_P99_MS:.0f} ms at {CONNECTIONS} connections",
        command=f"{python_command()} -m bench api --store {options.store}",
    )
    for workers, (serial, figures) in measured.items():
        labels = {"store": options.store, "tool": tool.split()[0], "processes": str(workers)}
        # One connection: the service time of a request, for reading the loaded row (with
        # a closed loop of N connections, latency is about N / throughput: Little's law).
        report.rows.append(Row({**labels, "connections": "1"}, serial, met=None))
        report.rows.append(
            Row(
                {**labels, "connections": str(CONNECTIONS)},
                figures,
                met=figures["p99_ms"] <= TARGET_P99_MS and not figures["errors"],
            )
        )
    report.notes.append(
        f"{SCHEDULES} schedules stored; default page of the listing; `tickwork api` "
        f"(uvicorn) with {' and '.join(map(str, WORKERS))} worker processes (`--workers`); "
        f"{CONNECTIONS} connections for {DURATION} s after a {WARMUP} s warm-up; load tool: "
        f"{tool}. The load tool shares the machine's CPUs with the server "
        f"({os.cpu_count()} CPUs here)."
    )
    return report


# -- the pieces ----------------------------------------------------------------------------


@contextmanager
def _database(store: str) -> Iterator[str]:
    if store == "postgres":
        from tickwork.testing import postgres_schema

        # The server every PostgreSQL workload uses (docs/benchmarks.md, Reproduce).
        with postgres_schema(postgres_base_url(), prefix="tw_bench_api") as url:
            yield url
        return
    with tempfile.TemporaryDirectory(prefix="tw-bench-api-") as tmp:
        yield f"sqlite:///{Path(tmp) / 'tw.db'}"


def _prepare(url: str) -> str:
    """100 schedules and a read token; returns the token."""
    from tickwork.app import Tickwork
    from tickwork.tokens import create_token

    tw = Tickwork(database_url=url)
    try:
        for i in range(SCHEDULES):
            minute = i % 60
            tw.add_schedule(name=f"report-{i:03}", cron=f"{minute} * * * *", command="true")
        tw.sync()
        token, _ = create_token(tw, "bench", "read")
    finally:
        tw.close()
    return token


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _uvicorn(url: str, workers: int = 1) -> Iterator[str]:
    import httpx

    port = _free_port()
    env = {**os.environ, "TICKWORK_DATABASE_URL": url, "TICKWORK_LOG_LEVEL": "warning"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    # ``tickwork api``, as users serve it: its own socket, uvicorn in each worker process.
    # What it prints (its start-up line, errors) goes to a file, shown when it fails.
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "tickwork", "api"),
                *("--port", str(port), "--workers", str(workers)),
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"the uvicorn under test did not start:\n{log.read()}")
                time.sleep(0.1)
            yield base
        finally:
            proc.terminate()
            proc.wait(30)


def _load(base: str, token: str, seconds: int, connections: int) -> dict[str, float]:
    if shutil.which("wrk"):
        return _wrk(base, token, seconds, connections)
    out = subprocess.run(
        [sys.executable, "-m", "bench.api", base, token, str(connections), str(seconds)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    p50, p99, rate, errors, sent = (float(x) for x in out.stdout.split())
    figures = {"p50_ms": p50, "p99_ms": p99, "requests_per_s": rate}
    return {**figures, "errors": errors, "requests": sent}


def _wrk(base: str, token: str, seconds: int, connections: int) -> dict[str, float]:
    threads = min(2, connections)
    out = subprocess.run(
        [
            *("wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"),
            *("-H", f"Authorization: Bearer {token}", base + PATH),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sent = re.search(r"^\s*(\d+) requests in", out, re.MULTILINE)

    def percentile(label: str) -> float:
        match = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
        if match is None:
            raise RuntimeError(f"no {label}% latency in wrk's output:\n{out}")
        number, unit = float(match.group(1)), match.group(2)
        return number * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    rate = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.MULTILINE)
    if rate is None:
        raise RuntimeError(f"no Requests/sec in wrk's output:\n{out}")
    return {
        "p50_ms": percentile("50"),
        "p99_ms": percentile("99"),
        "requests_per_s": float(rate.group(1)),
        # Answers other than 2xx/3xx (a database refusing connections: 503), reported.
        "errors": float(errors.group(1)) if errors else 0.0,
        "requests": float(sent.group(1)) if sent else 0.0,
    }


# -- the fallback load generator (``python -m bench.api URL TOKEN CONNECTIONS SECONDS``) ----


async def _drive(
    base: str, token: str, connections: int, seconds: float
) -> tuple[list[float], int]:
    import httpx

    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, limits=limits, headers=headers) as client:

        async def one_connection() -> None:
            nonlocal errors
            while time.perf_counter() < stop_at:
                began = time.perf_counter()
                response = await client.get(PATH)
                latencies.append(time.perf_counter() - began)
                errors += response.status_code >= 400

        await asyncio.gather(*(one_connection() for _ in range(connections)))
    return latencies, errors


def _main(argv: list[str]) -> None:
    base, token, connections, seconds = argv[0], argv[1], int(argv[2]), float(argv[3])
    began = time.perf_counter()
    timed, errors = asyncio.run(_drive(base, token, connections, seconds))
    latencies = sorted(timed)
    elapsed = time.perf_counter() - began
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    p50 = statistics.median(latencies)
    rate = len(latencies) / elapsed
    print(f"{p50 * 1000:.3f} {p99 * 1000:.3f} {rate:.1f} {errors} {len(latencies)}")


if __name__ == "__main__":
    _main(sys.argv[1:])
