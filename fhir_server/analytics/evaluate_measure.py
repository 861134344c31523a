"""`Measure/[id]/$evaluate-measure` (https://hl7.org/fhir/R4/measure-operation-evaluate-measure.html).

Evaluates the shipped in-hospital mortality measure (`Measure/in-hospital-mortality`) over the
period `periodStart`..`periodEnd` (discharge dates, inclusive) and returns a MeasureReport:
`reportType=population` (the default: a summary), `subject` (one subject's figures) or
`subject-list` (the counted encounters listed). `subject` restricts the encounters to a Patient,
a Group of patients, an attending Practitioner (or PractitionerRole), a department (Organization)
or a Location; `practitioner` is a shorthand for subject=Practitioner/[id]. At type level the
measure is named by `measure` (its id, `Measure/id` or canonical url). `lastReceivedOn` is refused.
"""

from __future__ import annotations

from typing import Any

from fhir_server.analytics.measure import MEASURE_ID, MEASURE_URL
from fhir_server.analytics.mortality import Subject
from fhir_server.analytics.periods import parse_period
from fhir_server.analytics.service import MortalityAnalytics
from fhir_server.context import RequestContext
from fhir_server.errors import BadRequest, Unprocessable
from fhir_server.operations.registry import OperationCall, OperationResult

__all__ = ["DEFINITION", "EvaluateMeasureOperation"]

DEFINITION: dict[str, Any] = {
    "resourceType": "OperationDefinition",
    "id": "Measure-evaluate-measure",
    "url": "http://hl7.org/fhir/OperationDefinition/Measure-evaluate-measure",
    "name": "EvaluateMeasure",
    "status": "active",
    "kind": "operation",
    "code": "evaluate-measure",
    "comment": "This server evaluates its shipped Measure/in-hospital-mortality.",
    "resource": ["Measure"],
    "system": False,
    "type": True,
    "instance": True,
    "affectsState": False,
    "parameter": [
        {"name": "periodStart", "use": "in", "min": 1, "max": "1", "type": "date",
         "documentation": "Start of the measurement period (discharges on or after it)"},
        {"name": "periodEnd", "use": "in", "min": 1, "max": "1", "type": "date",
         "documentation": "End of the measurement period (discharges on or before it)"},
        {"name": "measure", "use": "in", "min": 0, "max": "1", "type": "string",
         "documentation": "The measure to evaluate (type level): its id, Measure/id or canonical url"},
        {"name": "reportType", "use": "in", "min": 0, "max": "1", "type": "code",
         "documentation": "population (default) | subject | subject-list"},
        {"name": "subject", "use": "in", "min": 0, "max": "1", "type": "string",
         "documentation": "Patient, Group, Practitioner, PractitionerRole, Organization or Location reference"},
        {"name": "practitioner", "use": "in", "min": 0, "max": "1", "type": "string",
         "documentation": "Shorthand for subject=Practitioner/[id]"},
        {"name": "lastReceivedOn", "use": "in", "min": 0, "max": "1", "type": "dateTime",
         "documentation": "Not supported"},
        {"name": "return", "use": "out", "min": 1, "max": "1", "type": "MeasureReport"},
    ],
}


def _measure_id(call: OperationCall) -> str:
    if call.level == "instance":
        return call.res_id or ""
    named = call.inputs.value("measure")
    if named is None:
        raise BadRequest("$evaluate-measure at type level needs the parameter 'measure'", code="required")
    text = str(named)
    if text in (MEASURE_URL, MEASURE_ID, f"Measure/{MEASURE_ID}") or text.split("|")[0] == MEASURE_URL:
        return MEASURE_ID
    return text


class EvaluateMeasureOperation:
    def __init__(self, analytics: MortalityAnalytics) -> None:
        self.analytics = analytics

    async def __call__(self, ctx: RequestContext, call: OperationCall) -> OperationResult:
        if _measure_id(call) != MEASURE_ID:
            raise Unprocessable(f"this server evaluates Measure/{MEASURE_ID} only", code="not-supported")
        if call.inputs.has("lastReceivedOn"):
            raise BadRequest("lastReceivedOn is not supported", code="not-supported")
        subject_text = call.inputs.value("subject")
        practitioner = call.inputs.value("practitioner")
        if subject_text and practitioner:
            raise BadRequest("give subject or practitioner, not both")
        if practitioner:
            subject_text = practitioner if "/" in str(practitioner) else f"Practitioner/{practitioner}"
        subject = Subject.parse(str(subject_text)) if subject_text else None
        period = parse_period(call.inputs.value("periodStart"), call.inputs.value("periodEnd"))
        report = await self.analytics.evaluate(ctx.principal, period=period, subject=subject,
                                               report_type=str(call.inputs.value("reportType", "population")))
        return OperationResult(report)
