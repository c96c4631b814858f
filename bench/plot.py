"""The PNG of docs/benchmarks.md: throughput and lag p99 of tickwork, the peers and the raw
database limit, from the reports of one run (``python -m bench all --plot PATH``)."""

from __future__ import annotations

import math
from pathlib import Path

from bench.report import Report

__all__ = ["plot"]


def _bars(reports: list[Report], workload: str, value: str) -> list[tuple[str, float, str]]:
    """(label, value, store) of every row of ``workload`` that has ``value``."""
    bars = []
    for report in reports:
        if report.workload != workload:
            continue
        store = report.command.rsplit("--store ", 1)[-1] if "--store" in report.command else ""
        for row in report.rows:
            number = row.values.get(value)
            ratio_row = " / " in row.labels.get("setup", "")  # "4 workers / 1 worker"
            if number is None or math.isnan(number) or ratio_row:
                continue
            name = row.labels.get("system", "")
            detail = row.labels.get("setup") or row.labels.get("case", "")
            where = "" if name.startswith(("raw", "APScheduler")) else f" ({store})"
            bars.append((f"{name}{where}: {detail}", number, store))
    return bars


def plot(reports: list[Report], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    throughput = _bars(reports, "throughput", "runs_per_s")
    lag = _bars(reports, "lag", "p99_ms")
    fig, axes = plt.subplots(2, 1, figsize=(11, 9), constrained_layout=True)
    for axis, bars, title, unit in (
        (axes[0], throughput, "Throughput, no-op runs (higher is better)", "runs/s (log)"),
        (axes[1], lag, "Lag p99, 200 schedules every second (lower is better)", "ms (log)"),
    ):
        if not bars:
            axis.set_visible(False)
            continue
        labels = [b[0] for b in bars]
        values = [max(b[1], 1e-3) for b in bars]
        colors = [
            "tab:green" if "tickwork" in label else "tab:gray" if "raw" in label else "tab:orange"
            for label in labels
        ]
        axis.barh(range(len(bars)), values, color=colors)
        axis.set_yticks(range(len(bars)), labels, fontsize=8)
        axis.invert_yaxis()
        axis.set_xscale("log")
        axis.set_xlabel(unit)
        axis.set_title(title)
        for i, v in enumerate(values):
            axis.text(v, i, f" {v:,.0f}" if v >= 10 else f" {v:.1f}", va="center", fontsize=8)
    fig.suptitle("tickwork benchmarks (green: tickwork, orange: peers, grey: raw database)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
