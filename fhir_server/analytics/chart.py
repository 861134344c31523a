"""Geometry of the dashboard's trend chart: mortality rate per bucket, one line per series.

Pure arithmetic, no markup: the template draws the SVG from these numbers, so every text it shows
goes through the template's escaping. Suppressed or empty buckets leave a gap in their line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fhir_server.analytics.table import Row

__all__ = ["Chart", "Series", "Point", "line_chart", "PALETTE"]

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf", "#393b79", "#637939")


@dataclass(frozen=True, slots=True)
class Point:
    x: float
    y: float
    bucket: str
    rate: float
    deaths: int
    total: int


@dataclass(slots=True)
class Series:
    label: str
    colour: str
    # runs of consecutive points (a gap where a bucket is suppressed or empty)
    segments: list[list[Point]] = field(default_factory=list)

    @property
    def paths(self) -> list[str]:
        return [" ".join(f"{p.x:.1f},{p.y:.1f}" for p in segment) for segment in self.segments]


@dataclass(slots=True)
class Chart:
    width: int
    height: int
    left: int
    top: int
    plot_width: int
    plot_height: int
    x_labels: list[tuple[float, str]]
    y_ticks: list[tuple[float, str]]
    series: list[Series]


def _nice_ceiling(value: float) -> float:
    """The top of the y axis: the rate rounded up to a step of 1, 2 or 5 percent (at least 5%)."""
    for step in (0.05, 0.1, 0.2, 0.25, 0.5, 1.0):
        if value <= step:
            return step
    return 1.0


def line_chart(rows: list[Row], *, width: int = 760, height: int = 320, max_series: int = len(PALETTE)) -> Chart:
    """A chart of trend rows (one stratifier's key x bucket rows), largest series first."""
    buckets: list[str] = []
    by_key: dict[str, list[Row]] = {}
    labels: dict[str, str] = {}
    for row in rows:
        if row.bucket is not None and row.bucket not in buckets:
            buckets.append(row.bucket)
        key = row.key or ""
        by_key.setdefault(key, []).append(row)
        labels[key] = row.label
    keys = sorted(by_key, key=lambda k: -sum(r.total or 0 for r in by_key[k]))[:max_series]
    left, top, right, bottom = 56, 16, 16, 40
    plot_width, plot_height = width - left - right, height - top - bottom
    rates = [r.rate for k in keys for r in by_key[k] if r.rate is not None]
    ceiling = _nice_ceiling(max(rates, default=0.0))
    step = plot_width / max(len(buckets) - 1, 1)
    x_of = {bucket: left + (index * step if len(buckets) > 1 else plot_width / 2) for index, bucket in enumerate(buckets)}
    series = []
    for index, key in enumerate(keys):
        line = Series(labels[key], PALETTE[index % len(PALETTE)])
        run: list[Point] = []
        for row in by_key[key]:
            if row.rate is None or row.bucket is None:
                if run:
                    line.segments.append(run)
                run = []
                continue
            y = top + plot_height * (1 - row.rate / ceiling)
            run.append(Point(x_of[row.bucket], y, row.bucket, row.rate, row.deaths or 0, row.total or 0))
        if run:
            line.segments.append(run)
        series.append(line)
    ticks = [(top + plot_height * (1 - n / 5), f"{ceiling * n / 5 * 100:.0f}%") for n in range(6)]
    every = max(1, len(buckets) // 12)
    x_labels = [(x_of[b], b) for i, b in enumerate(buckets) if i % every == 0]
    return Chart(width, height, left, top, plot_width, plot_height, x_labels, ticks, series)
