"""``python -m bench WORKLOAD [--store sqlite|postgres] [--json]``; ``python -m bench all``.

Add a workload: write ``bench/<name>.py`` with ``run(options: Options) -> Report`` and add
one ``Workload`` line to ``WORKLOADS``. Exit status: 0 when every target was met, 1 when a
target was missed (something to report), 2 for a bad command line.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench import api, lag, next_fire, scale, throughput
from bench.plot import plot
from bench.report import Options, Report


@dataclass(frozen=True, slots=True)
class Workload:
    name: str
    summary: str
    run: Callable[[Options], Report]
    uses_store: bool = False  # whether --store selects what is measured


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in [
        Workload("next", "CronTrigger.next_after per fire; tickwork next", next_fire.run),
        Workload("api", "GET /api/v1/schedules at 50 connections (uvicorn)", api.run, True),
        Workload("throughput", "no-op runs/s end to end, raw limit, peers", throughput.run, True),
        Workload("lag", "start minus nominal fire, 200 schedules every second", lag.run, True),
        Workload("scale", "10^6 schedules: scheduler RSS, tick cost", scale.run),
    ]
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="tickwork benchmarks. Workloads: "
        + "; ".join(f"{w.name}: {w.summary}" for w in WORKLOADS.values()),
    )
    parser.add_argument("workload", choices=[*WORKLOADS, "all"])
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--plot", type=Path, help="also draw throughput and lag into this PNG")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    chosen = list(WORKLOADS.values()) if args.workload == "all" else [WORKLOADS[args.workload]]
    # ``all`` measures every store workload on both stores (PostgreSQL skipped, with the
    # reason printed, where none is reachable); a single workload uses ``--store``.
    stores = ["sqlite", "postgres"] if args.workload == "all" else [args.store]
    runs = [
        (workload, Options(store=store, as_json=args.json))
        for workload in chosen
        for store in (stores if workload.uses_store else [args.store])
    ]
    reports = []
    for workload, options in runs:
        report = workload.run(options)
        reports.append(report)
        if not args.json:
            report.print(as_json=False)
            print()
    if args.plot is not None:
        plot(reports, args.plot)
    if args.json:
        payload = [r.as_dict() for r in reports]
        print(json.dumps(payload if args.workload == "all" else payload[0], indent=2))
    # A skipped workload (None: no PostgreSQL here) is reported, not failed.
    return 0 if all(r.met is not False for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
