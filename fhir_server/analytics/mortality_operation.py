"""`$mortality`: the dashboard's convenience view of in-hospital mortality, as a MeasureReport or CSV.

    GET [base]/Practitioner/[id]/$mortality?period=quarter      one attending's rate per quarter
    GET [base]/Organization/[id]/$mortality?period=month        one department's (also Location,
                                                                 PractitionerRole)
    GET [base]/$mortality?by=department&period=quarter          each department, and its trend by quarter

Parameters: `period` month | quarter (default) | year; `periodStart` / `periodEnd` (default: the
last two calendar years to today); `by` attending | department (default) | location | condition
(system level). The figures are those of `$evaluate-measure` on Measure/in-hospital-mortality, with
the same access rules and small-cell suppression. `_format=csv` (or `Accept: text/csv`) gives the
same rows as CSV (see `csv_table.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fhir_server.analytics.access import AnalyticsRequest
from fhir_server.analytics.mortality import DIMENSIONS, SUBJECT_TYPES, Subject
from fhir_server.analytics.periods import GRANULARITIES, parse_period
from fhir_server.analytics.report import measure_report
from fhir_server.analytics.service import MortalityAnalytics
from fhir_server.analytics.table import MortalityTable
from fhir_server.context import Principal, RequestContext
from fhir_server.errors import BadRequest
from fhir_server.operations.registry import OperationCall, OperationResult

__all__ = ["DEFINITION", "MortalityView", "mortality_view", "MortalityOperation", "INSTANCE_TYPES", "subject_of"]

INSTANCE_TYPES = ("Practitioner", "PractitionerRole", "Organization", "Location")

DEFINITION: dict[str, Any] = {
    "resourceType": "OperationDefinition",
    "id": "mortality",
    "url": "https://fhir-server.dev/fhir/OperationDefinition/mortality",
    "name": "Mortality",
    "status": "active",
    "kind": "operation",
    "code": "mortality",
    "comment": "In-hospital mortality (Measure/in-hospital-mortality) for dashboards: a MeasureReport or CSV.",
    "resource": list(INSTANCE_TYPES),
    "system": True,
    "type": False,
    "instance": True,
    "affectsState": False,
    "parameter": [
        {"name": "period", "use": "in", "min": 0, "max": "1", "type": "code",
         "documentation": "month | quarter (default) | year"},
        {"name": "periodStart", "use": "in", "min": 0, "max": "1", "type": "date"},
        {"name": "periodEnd", "use": "in", "min": 0, "max": "1", "type": "date"},
        {"name": "by", "use": "in", "min": 0, "max": "1", "type": "code",
         "documentation": "System level: attending | department (default) | location | condition"},
        {"name": "return", "use": "out", "min": 1, "max": "1", "type": "MeasureReport"},
    ],
}


@dataclass(frozen=True, slots=True)
class MortalityView:
    table: MortalityTable
    stratifiers: tuple[str, ...]
    granularity: str
    by: str | None


async def mortality_view(analytics: MortalityAnalytics, principal: Principal, params: dict[str, str], *,
                         subject: Subject | None = None, action: str = "mortality") -> MortalityView:
    """The table and stratifiers `$mortality` shows for these (already checked) parameters."""
    granularity = params.get("period", "quarter")
    if granularity not in GRANULARITIES:
        raise BadRequest(f"period must be one of {', '.join(GRANULARITIES)}, got '{granularity}'")
    by = None
    if subject is None:
        by = params.get("by", "department")
        if by not in DIMENSIONS:
            raise BadRequest(f"by must be one of {', '.join(DIMENSIONS)}, got '{by}'")
    elif "by" in params:
        raise BadRequest("by applies at the system level ([base]/$mortality); an instance is one stratum already")
    period = parse_period(params.get("periodStart"), params.get("periodEnd"), default_years=2)
    request = AnalyticsRequest(action, subject=subject.reference if subject else None)
    table = await analytics.table(principal, request, period=period, subject=subject,
                                  trend=(by, granularity) if by else None)
    stratifiers = (granularity, "condition") if by is None else (by, f"{by}-{granularity}", granularity)
    return MortalityView(table, stratifiers, granularity, by)


def subject_of(res_type: str | None, res_id: str | None) -> Subject | None:
    if res_type is None:
        return None
    if res_type not in INSTANCE_TYPES or res_type not in SUBJECT_TYPES:
        raise BadRequest(f"$mortality is available on {', '.join(INSTANCE_TYPES)} instances, not {res_type}")
    return Subject(res_type, res_id or "")


class MortalityOperation:
    def __init__(self, analytics: MortalityAnalytics) -> None:
        self.analytics = analytics

    async def __call__(self, ctx: RequestContext, call: OperationCall) -> OperationResult:
        params = {name: str(call.inputs.value(name)) for name in ("period", "periodStart", "periodEnd", "by")
                  if call.inputs.has(name)}
        view = await mortality_view(self.analytics, ctx.principal, params,
                                    subject=subject_of(call.res_type, call.res_id))
        return OperationResult(measure_report(view.table, stratifiers=view.stratifiers))
