"""The mortality dashboard: one server-rendered HTML page, chart included, no external assets.

The page shows the overall rate, a trend chart (rate per quarter, one line per department, or per
the `by` dimension and `period` granularity asked for), the strata as a table and links to the same
numbers as CSV and as a MeasureReport. Rendered with Jinja2, autoescaping everything; the chart is
inline SVG drawn from `chart.py`'s geometry.
"""

from __future__ import annotations

from functools import cache
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, select_autoescape

from fhir_server.analytics.chart import line_chart
from fhir_server.analytics.mortality_operation import MortalityView
from fhir_server.analytics.table import STRATIFIER_TITLES

__all__ = ["render_dashboard"]


def _percent(rate: float | None) -> str:
    return "–" if rate is None else f"{rate * 100:.1f}%"


@cache
def _environment() -> Environment:
    environment = Environment(loader=PackageLoader("fhir_server.analytics", "templates"),
                              autoescape=select_autoescape(["html", "svg"]), trim_blocks=True, lstrip_blocks=True)
    environment.filters["percent"] = _percent
    return environment


def render_dashboard(view: MortalityView, *, fhir_base: str, params: dict[str, str]) -> str:
    table = view.table
    by = view.by or "department"
    trend_rows = table.stratifier(f"{by}-{view.granularity}")
    query = urlencode({k: v for k, v in params.items() if k in ("period", "periodStart", "periodEnd", "by")})
    return _environment().get_template("dashboard.html").render(
        table=table,
        overall=table.overall,
        by=by,
        by_title=STRATIFIER_TITLES[by],
        granularity=view.granularity,
        chart=line_chart(trend_rows),
        strata=table.stratifier(by),
        buckets=table.stratifier(view.granularity),
        csv_url=f"{fhir_base}/$mortality?{query}&_format=csv" if query else f"{fhir_base}/$mortality?_format=csv",
        report_url=f"{fhir_base}/$mortality?{query}" if query else f"{fhir_base}/$mortality",
        granularities=("month", "quarter", "year"),
        dimensions=("department", "attending", "location", "condition"),
        params=params,
    )
