"""The run-duration chart of a schedule: inline SVG drawn on the server, no JavaScript.

Pure: a list of finished runs in, markup out. Bars, oldest on the left; the y axis is in
seconds with round ticks; each bar has a ``<title>`` (run, state, duration) for a tooltip
and links to its run.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

__all__ = ["DurationPoint", "duration_chart", "nice_ticks"]

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 14, 34  # room for the axis labels


@dataclass(frozen=True, slots=True)
class DurationPoint:
    run_id: int
    seconds: float
    state: str  # a RunState value: it picks the bar's colour class
    label: str  # when it ran, shown in the tooltip


def nice_ticks(top: float, count: int = 4) -> list[float]:
    """Round tick values from 0 to at least ``top``: steps of 1, 2 or 5 times a power of 10."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    ticks = [0.0]
    while ticks[-1] < top:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _seconds_label(value: float) -> str:
    if value >= 100 or value == int(value):
        return f"{value:.0f} s"
    return f"{value:.2g} s" if value < 1 else f"{value:.1f} s"


def duration_chart(points: Sequence[DurationPoint], href: Callable[[int], str]) -> Markup:
    """An SVG bar chart of ``points`` (oldest first); ``href(run_id)`` links each bar."""
    if not points:
        return Markup('<p class="muted">No finished runs yet: nothing to chart.</p>')
    ticks = nice_ticks(max(p.seconds for p in points))
    top = ticks[-1]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / len(points)
    bar_w = max(min(slot * 0.7, 40.0), 1.0)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="chart-title" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="chart-title">Duration of the last {len(points)} finished runs, '
        f"in seconds</title>",
    ]
    for tick in ticks:
        y = TOP + plot_h - tick / top * plot_h
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(_seconds_label(tick))}</text>"
        )
    for i, point in enumerate(points):
        h = max(point.seconds / top * plot_h, 1.0)
        x = LEFT + i * slot + (slot - bar_w) / 2
        y = TOP + plot_h - h
        tip = f"run #{point.run_id}: {point.state}, {point.seconds:.2f} s, {point.label}"
        parts.append(
            f'<a href="{escape(href(point.run_id))}">'
            f'<rect class="bar st-{escape(point.state)}" x="{x:.1f}" y="{y:.1f}" '
            f'width="{bar_w:.1f}" height="{h:.1f}"><title>{escape(tip)}</title></rect></a>'
        )
    base = TOP + plot_h
    parts.append(
        f'<line class="axis-line" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{base}" y2="{base}"/>'
        f'<text class="axis" x="{LEFT}" y="{HEIGHT - 10}">oldest</text>'
        f'<text class="axis" x="{WIDTH - RIGHT}" y="{HEIGHT - 10}" text-anchor="end">newest'
        f"</text>"
        f'<text class="axis" x="{LEFT + plot_w / 2:.0f}" y="{HEIGHT - 10}" '
        f'text-anchor="middle">last {len(points)} finished runs (seconds)</text>'
        "</svg>"
    )
    return Markup("".join(parts))
