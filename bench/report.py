"""What a workload returns, and how it is printed (a table, or JSON with ``--json``)."""

from __future__ import annotations

import json
import math
import os
import platform
import sqlite3
import statistics
import sys
from dataclasses import asdict, dataclass, field
from importlib import metadata
from typing import Any

__all__ = ["Options", "Report", "Row", "summarize_us"]


@dataclass(frozen=True, slots=True)
class Options:
    """Command-line options every workload receives."""

    store: str = "sqlite"
    as_json: bool = False


@dataclass(frozen=True, slots=True)
class Row:
    """One measured case: its label columns, its numbers and whether it met the target."""

    labels: dict[str, str]
    values: dict[str, float | None]  # None: does not apply to this row ("-", JSON null)
    met: bool | None = None  # None: informational, no target


@dataclass(slots=True)
class Report:
    workload: str
    target: str
    command: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def met(self) -> bool | None:
        """Whether every target row was met; None when nothing was measured (skipped)."""
        if not self.rows:
            return None
        return all(row.met is not False for row in self.rows)

    def as_dict(self) -> dict[str, Any]:
        return {
            "workload": self.workload,
            "target": self.target,
            "met": self.met,
            "command": self.command,
            "environment": environment(),
            # JSON has no NaN or infinity: a figure that is not a number is null.
            "rows": [
                {**asdict(row), "values": {k: _finite(v) for k, v in row.values.items()}}
                for row in self.rows
            ],
            "notes": self.notes,
        }

    def render(self) -> str:
        if not self.rows:  # skipped: the notes say why
            return "\n".join([f"workload {self.workload} — target: {self.target}", "", *self.notes])
        label_keys = list(self.rows[0].labels)
        value_keys = list(self.rows[0].values)
        header = [*label_keys, *(_heading(k) for k in value_keys), "target"]
        lines = [
            [
                *(row.labels[k] for k in label_keys),
                *(_number(k, row.values[k]) for k in value_keys),
                "-" if row.met is None else ("met" if row.met else "NOT MET"),
            ]
            for row in self.rows
        ]
        widths = [max(len(str(c)) for c in column) for column in zip(header, *lines, strict=True)]
        numeric = set(range(len(label_keys), len(label_keys) + len(value_keys)))

        def fmt(cells: list[str]) -> str:
            return "  ".join(
                c.rjust(w) if i in numeric else c.ljust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            ).rstrip()

        env = environment()
        out = [
            f"workload {self.workload} — target: {self.target}",
            f"python {env['python']} on {env['platform']}, {env['cpus']} CPUs; tickwork "
            f"{env['tickwork']}, SQLite {env['sqlite']}, SQLAlchemy {env['sqlalchemy']}",
            "",
            fmt(header),
            fmt(["-" * w for w in widths]),
            *(fmt(line) for line in lines),
            "",
            *self.notes,
            f"target {'met' if self.met else 'NOT met'} for every row"
            if self.met
            else "target NOT met for: "
            + ", ".join(
                " ".join(v for k, v in r.labels.items() if k != "correct")
                for r in self.rows
                if r.met is False
            ),
            f"reproduce: {self.command}",
        ]
        return "\n".join(out)

    def print(self, as_json: bool) -> None:
        print(json.dumps(self.as_dict(), indent=2, allow_nan=False) if as_json else self.render())


def _heading(key: str) -> str:
    """``median_us`` -> ``median µs``, ``fires_per_s`` -> ``fires/s``."""
    return key.replace("_per_", "/").replace("_us", " µs").replace("_ms", " ms").replace("_", " ")


COUNTS = frozenset({"runs", "expected", "errors", "requests"})  # whole numbers, as such


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _number(key: str, value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    if key in COUNTS and float(value).is_integer():
        return f"{int(value):,}"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def summarize_us(samples_ns: list[int]) -> dict[str, float]:
    """Median, p99 (microseconds) and throughput of per-operation timings."""
    ordered = sorted(samples_ns)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    mean = statistics.fmean(ordered)
    return {
        "median_us": statistics.median(ordered) / 1000,
        "p99_us": p99 / 1000,
        "per_s": 1e9 / mean if mean else float("inf"),
    }


VERSIONED = ("tickwork", "sqlalchemy", "psycopg", "apscheduler", "procrastinate")


def environment() -> dict[str, str]:
    """The machine and the versions a figure was measured with."""
    found = {}
    for name in VERSIONED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return {
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "platform": platform.platform(terse=True),
        "machine": platform.machine(),
        "cpus": str(os.cpu_count()),
        "sqlite": sqlite3.sqlite_version,
        **found,
    }
