"""The in-hospital mortality `Measure` the server ships, with the stable id `in-hospital-mortality`.

It is stored like any resource (so `GET [base]/Measure/in-hospital-mortality` serves it and it has a
history), written the first time analytics is used when it is missing. Its populations and
stratifiers describe in FHIR terms what `mortality.py` counts; the server evaluates this measure
only (`$evaluate-measure` on another Measure is refused), since the counting is built in.
"""

from __future__ import annotations

from typing import Any

from fhir_server.context import Principal, RequestContext
from fhir_server.errors import Gone, NotFound
from fhir_server.services.resources import ResourceService

__all__ = ["MEASURE_ID", "MEASURE_URL", "CANONICAL_BASE", "STRATIFIERS", "measure_resource", "ensure_measure",
           "ANALYTICS_PRINCIPAL", "POPULATION_SYSTEM", "STRATIFIER_SYSTEM"]

CANONICAL_BASE = "https://fhir-server.dev/fhir"
MEASURE_ID = "in-hospital-mortality"
MEASURE_URL = f"{CANONICAL_BASE}/Measure/{MEASURE_ID}"
POPULATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/measure-population"
STRATIFIER_SYSTEM = f"{CANONICAL_BASE}/CodeSystem/mortality-stratifier"
# the system principal analytics writes its Measure under
ANALYTICS_PRINCIPAL = Principal(subject="fhir-server/analytics", role="system", scopes=frozenset({"system/Measure.cru"}),
                                client_id="fhir-server-analytics")

# (id, description, FHIRPath of what it groups by)
STRATIFIERS: tuple[tuple[str, str, str], ...] = (
    ("attending", "Attending practitioner at discharge",
     "Encounter.participant.where(type.coding.code = 'ATND').last().individual"),
    ("department", "Department: the organization responsible for the stay", "Encounter.serviceProvider"),
    ("location", "Location at discharge", "Encounter.location.where(status != 'planned').last().location"),
    ("condition", "Principal condition: the principal diagnosis' code, else the first reason code",
     "iif(Encounter.diagnosis.where(rank = 1).exists(), "
     "Encounter.diagnosis.where(rank = 1).condition.resolve().code.coding.first(), "
     "Encounter.reasonCode.first().coding.first())"),
    ("month", "Month of discharge (UTC)", "Encounter.period.end"),
    ("quarter", "Quarter of discharge (UTC)", "Encounter.period.end"),
    ("year", "Year of discharge (UTC)", "Encounter.period.end"),
)

_INPATIENT = ("Encounter?class=http://terminology.hl7.org/CodeSystem/v3-ActCode|IMP"
              "&status:not=cancelled&status:not=entered-in-error&date=le{periodEnd}&date=ge{periodStart}")


def _population(code: str, description: str, language: str, expression: str) -> dict[str, Any]:
    return {"id": code, "code": {"coding": [{"system": POPULATION_SYSTEM, "code": code}]},
            "description": description, "criteria": {"language": language, "expression": expression}}


def measure_resource() -> dict[str, Any]:
    return {
        "resourceType": "Measure",
        "id": MEASURE_ID,
        "url": MEASURE_URL,
        "version": "1.0.0",
        "name": "InHospitalMortality",
        "title": "In-hospital mortality",
        "status": "active",
        "experimental": False,
        "publisher": "fhir-server",
        "description": (
            "The share of inpatient stays (Encounter.class IMP) discharged in the measurement period "
            "that ended in the patient's death: a discharge disposition of `exp`, or a "
            "Patient.deceasedDateTime within the stay. Stratified by attending practitioner, department, "
            "location at discharge, principal condition, and month, quarter and year of discharge. For "
            "analysts, strata with fewer stays than the server's minimum cell size are suppressed."),
        "scoring": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/measure-scoring",
                                "code": "proportion"}]},
        "type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/measure-type", "code": "outcome"}]}],
        "improvementNotation": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/measure-improvement-notation", "code": "decrease"}]},
        "group": [{
            "id": "mortality",
            "population": [
                _population("initial-population", "Inpatient stays discharged in the period",
                            "application/x-fhir-query", _INPATIENT),
                _population("denominator", "Every stay of the initial population", "application/x-fhir-query",
                            _INPATIENT),
                _population("numerator", "Stays that ended in death", "text/fhirpath",
                            "Encounter.hospitalization.dischargeDisposition.coding.where(code = 'exp').exists() "
                            "or Encounter.subject.resolve().deceased.ofType(dateTime) in Encounter.period"),
            ],
            "stratifier": [
                {"id": code, "code": {"coding": [{"system": STRATIFIER_SYSTEM, "code": code}], "text": description},
                 "description": description, "criteria": {"language": "text/fhirpath", "expression": expression}}
                for code, description, expression in STRATIFIERS
            ],
        }],
    }


async def ensure_measure(resources: ResourceService, base_url: str = "") -> None:
    """Store the shipped Measure if it is not there (a deleted one is written again)."""
    ctx = RequestContext(principal=ANALYTICS_PRINCIPAL, base_url=base_url)
    try:
        await resources.read(ctx, "Measure", MEASURE_ID)
        return
    except (NotFound, Gone):
        pass
    await resources.update(ctx, "Measure", MEASURE_ID, measure_resource())
