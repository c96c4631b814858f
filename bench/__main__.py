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

from bench import api, next_fire
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
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    options = Options(store=args.store, as_json=args.json)
    chosen = list(WORKLOADS.values()) if args.workload == "all" else [WORKLOADS[args.workload]]
    reports = []
    for workload in chosen:
        report = workload.run(options)
        reports.append(report)
        if not args.json:
            report.print(as_json=False)
            print()
    if args.json:
        payload = [r.as_dict() for r in reports]
        print(json.dumps(payload if args.workload == "all" else payload[0], indent=2))
    return 0 if all(r.met for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
