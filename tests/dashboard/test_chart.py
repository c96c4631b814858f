"""The duration chart: round ticks, one bar per run, text escaped."""

from __future__ import annotations

import pytest

from tickwork.web.dashboard.chart import DurationPoint, duration_chart, nice_ticks


@pytest.mark.parametrize(
    ("top", "ticks"),
    [
        pytest.param(12, [0, 5, 10, 15], id="12s"),
        pytest.param(3.2, [0, 1, 2, 3, 4], id="3.2s"),
        pytest.param(0.004, [0, 0.001, 0.002, 0.003, 0.004], id="4ms"),
        pytest.param(100, [0, 50, 100], id="100s-exact"),
        pytest.param(3600, [0, 1000, 2000, 3000, 4000], id="an-hour"),
        pytest.param(0, [0, 1], id="all-zero"),
    ],
)
def test_ticks_are_round_and_reach_the_top(top: float, ticks: list[float]) -> None:
    assert nice_ticks(top) == pytest.approx(ticks)


def test_a_bar_per_run_scaled_to_the_axis_and_linked() -> None:
    points = [DurationPoint(1, 5.0, "succeeded", "a"), DurationPoint(2, 10.0, "failed", "b")]
    svg = duration_chart(points, lambda i: f"/runs/{i}")
    assert svg.count("<rect") == 2
    assert '<a href="/runs/2"><rect class="bar st-failed"' in svg
    heights = [float(part.split('"')[0]) for part in svg.split('height="')[1:]]
    assert heights[1] == pytest.approx(2 * heights[0])  # 10 s twice as tall as 5 s
    assert ">10 s</text>" in svg


def test_no_finished_run_says_so() -> None:
    assert "No finished runs yet" in duration_chart([], str)


def test_text_in_the_chart_is_escaped() -> None:
    points = [DurationPoint(1, 1.0, '"><script>', "<img src=x>")]
    svg = duration_chart(points, lambda i: '"/x"')
    assert "<script>" not in svg
    assert "<img" not in svg
    assert "&lt;img src=x&gt;" in svg
