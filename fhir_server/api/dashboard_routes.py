"""Mortality analytics over HTTP: `$mortality` as a MeasureReport or CSV, and the HTML dashboard.

    GET [base]/$mortality?by=department&period=quarter          MeasureReport (JSON) or, with
    GET [base]/{Practitioner|PractitionerRole|Organization|Location}/[id]/$mortality
                                                                 `_format=csv` / `Accept: text/csv`, CSV
    GET /dashboard/mortality?by=department&period=quarter       the dashboard page (HTML, inline SVG)

`$mortality` is also a registered operation (its OperationDefinition, and POST through the generic
operation routes); these routes come first so the same figures can be served as CSV.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fhir_server.analytics import MortalityAnalytics
from fhir_server.analytics.csv_table import to_csv
from fhir_server.analytics.dashboard import render_dashboard
from fhir_server.analytics.mortality_operation import mortality_view, subject_of
from fhir_server.analytics.report import measure_report
from fhir_server.api.deps import RequestContextFactory
from fhir_server.api.negotiation import negotiate
from fhir_server.api.responses import fhir_response
from fhir_server.errors import BadRequest
from resources import fhir_json

__all__ = ["DashboardRoutes"]

PARAMETERS = frozenset({"period", "periodStart", "periodEnd", "by"})
CSV_FORMATS = frozenset({"csv", "text/csv"})
# the page loads nothing from anywhere: inline style and SVG only
PAGE_POLICY = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"


def _parameters(request: Request) -> dict[str, str]:
    params: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name in ("_format", "_pretty"):
            continue
        if name not in PARAMETERS:
            raise BadRequest(f"$mortality has no parameter '{name}' (it takes {', '.join(sorted(PARAMETERS))})")
        if name in params:
            raise BadRequest(f"'{name}' may be given once")
        params[name] = value
    return params


def _wants_csv(request: Request) -> bool:
    fmt = request.query_params.get("_format")
    if fmt is not None:
        return fmt.split(";")[0].strip().lower() in CSV_FORMATS
    accept = request.headers.get("accept", "")
    return accept.split(",")[0].split(";")[0].strip().lower() == "text/csv"


class DashboardRoutes:
    def __init__(self, analytics: Callable[[], MortalityAnalytics], *, context: RequestContextFactory) -> None:
        self._analytics = analytics
        self._context = context

    def routes(self) -> list[Route]:
        return [
            Route("/fhir/$mortality", self.mortality, methods=["GET"]),
            Route("/fhir/{res_type:type}/{res_id:id}/$mortality", self.mortality, methods=["GET"]),
            Route("/dashboard/mortality", self.dashboard, methods=["GET"]),
        ]

    async def mortality(self, request: Request) -> Response:
        csv = _wants_csv(request)
        negotiated = None if csv else negotiate(request)
        ctx = await self._context(request)
        subject = subject_of(request.path_params.get("res_type"), request.path_params.get("res_id"))
        params = _parameters(request)
        view = await mortality_view(self._analytics(), ctx.principal, params, subject=subject,
                                    action="csv" if csv else "mortality")
        if csv:
            name = (subject.reference.replace("/", "-") if subject else f"by-{view.by}") + f"-{view.granularity}"
            return Response(to_csv(view.table, view.stratifiers), media_type="text/csv; charset=utf-8",
                            headers={"content-disposition": f'attachment; filename="mortality-{name}.csv"'})
        assert negotiated is not None
        return fhir_response(fhir_json.dumps(measure_report(view.table, stratifiers=view.stratifiers)), negotiated)

    async def dashboard(self, request: Request) -> Response:
        ctx = await self._context(request)
        params = _parameters(request)
        view = await mortality_view(self._analytics(), ctx.principal, params, action="dashboard")
        page = render_dashboard(view, fhir_base=ctx.base_url, params=params)
        return Response(page, media_type="text/html; charset=utf-8",
                        headers={"content-security-policy": PAGE_POLICY, "x-content-type-options": "nosniff"})
