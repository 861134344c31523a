"""A `MeasureReport` (https://hl7.org/fhir/R4/measurereport.html) from the mortality table.

One group (`mortality`) with the initial population, denominator and numerator counts and the rate
as `measureScore`; one stratifier per table stratifier, each stratum keyed by a CodeableConcept
(`text` the stratum's label; a reference stratum also carries the reference in an extension, a
condition its coding). A suppressed stratum has no counts and no score, only the extension
`small-cell-suppressed`. `subject-list` reports name the counted encounters in contained Lists.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fhir_server.analytics.measure import CANONICAL_BASE, MEASURE_URL, POPULATION_SYSTEM, STRATIFIER_SYSTEM
from fhir_server.analytics.table import STRATIFIER_TITLES, MortalityTable, Row
from fhir_server.storage.instants import now_micros, to_instant

__all__ = ["measure_report", "SUPPRESSED_URL", "REFERENCE_URL", "REPORT_TYPES"]

SUPPRESSED_URL = f"{CANONICAL_BASE}/StructureDefinition/small-cell-suppressed"
REFERENCE_URL = f"{CANONICAL_BASE}/StructureDefinition/stratum-reference"
MINIMUM_CELL_URL = f"{CANONICAL_BASE}/StructureDefinition/minimum-cell-size"
# reportType of $evaluate-measure -> MeasureReport.type
REPORT_TYPES = {"population": "summary", "subject": "individual", "subject-list": "subject-list"}
REPORT_STRATIFIERS = ("attending", "department", "location", "condition", "month", "quarter", "year")


def _populations(row: Row, lists: dict[str, str] | None = None) -> list[dict[str, Any]]:
    out = []
    for code, count in (("initial-population", row.total), ("denominator", row.total), ("numerator", row.deaths)):
        population: dict[str, Any] = {"code": {"coding": [{"system": POPULATION_SYSTEM, "code": code}]}}
        if count is not None:
            population["count"] = count
        if lists and code in lists:
            population["subjectResults"] = {"reference": f"#{lists[code]}"}
        out.append(population)
    return out


def _score(row: Row) -> dict[str, Any] | None:
    rate = row.rate
    return None if rate is None else {"value": Decimal(f"{rate:.4f}")}


def _value(row: Row) -> dict[str, Any]:
    value: dict[str, Any] = {"text": row.label}
    if row.key is None or row.stratifier in ("month", "quarter", "year"):
        return value
    if row.stratifier == "condition":
        system, _, code = row.key.rpartition("|")
        coding: dict[str, Any] = {"code": code}
        if system:
            coding["system"] = system
        if row.label != code:
            coding["display"] = row.label
        value["coding"] = [coding]
    else:
        value["extension"] = [{"url": REFERENCE_URL, "valueReference": {"reference": row.key, "display": row.label}}]
    return value


def _stratum(row: Row) -> dict[str, Any]:
    if "-" in row.stratifier:  # a trend: the key and the period bucket as components
        dimension, _, granularity = row.stratifier.partition("-")
        keyed = Row(dimension, row.key, row.label, None, row.total, row.deaths, row.suppressed)
        stratum: dict[str, Any] = {"component": [
            {"code": {"coding": [{"system": STRATIFIER_SYSTEM, "code": dimension}]}, "value": _value(keyed)},
            {"code": {"coding": [{"system": STRATIFIER_SYSTEM, "code": granularity}]},
             "value": {"text": row.bucket or ""}}]}
    else:
        stratum = {"value": _value(row)}
    if row.suppressed:
        stratum["extension"] = [{"url": SUPPRESSED_URL, "valueBoolean": True}]
    stratum["population"] = _populations(row)
    score = _score(row)
    if score is not None:
        stratum["measureScore"] = score
    return stratum


def _title(name: str) -> str:
    if "-" in name:
        dimension, _, granularity = name.partition("-")
        return f"{STRATIFIER_TITLES[dimension]} by {granularity}"
    return STRATIFIER_TITLES[name]


def measure_report(table: MortalityTable, *, report_type: str = "population",
                   encounters: list[tuple[str, bool]] | None = None,
                   stratifiers: tuple[str, ...] = REPORT_STRATIFIERS) -> dict[str, Any]:
    """The MeasureReport of `table`; for `subject-list`, `encounters` = (id, died) of those counted;
    `stratifiers` names the table stratifiers to report (a trend such as `department-quarter` too)."""
    overall = table.overall
    report: dict[str, Any] = {"resourceType": "MeasureReport"}
    lists: dict[str, str] = {}
    if report_type == "subject-list" and encounters is not None:
        report["contained"] = [
            {"resourceType": "List", "id": "denominator", "status": "current", "mode": "snapshot",
             "entry": [{"item": {"reference": f"Encounter/{res_id}"}} for res_id, _ in encounters]},
            {"resourceType": "List", "id": "numerator", "status": "current", "mode": "snapshot",
             "entry": [{"item": {"reference": f"Encounter/{res_id}"}} for res_id, died in encounters if died]},
        ]
        lists = {"initial-population": "denominator", "denominator": "denominator", "numerator": "numerator"}
    if table.minimum_cell is not None:
        report["extension"] = [{"url": MINIMUM_CELL_URL, "valueInteger": table.minimum_cell}]
    report.update({
        "status": "complete",
        "type": REPORT_TYPES[report_type],
        "measure": MEASURE_URL,
    })
    if table.subject is not None:
        report["subject"] = {"reference": table.subject.reference}
    report["date"] = to_instant(now_micros())
    report["period"] = {"start": table.period.start, "end": table.period.end}
    report["improvementNotation"] = {"coding": [{
        "system": "http://terminology.hl7.org/CodeSystem/measure-improvement-notation", "code": "decrease"}]}
    group: dict[str, Any] = {"id": "mortality", "population": _populations(overall, lists)}
    if overall.suppressed:
        group["extension"] = [{"url": SUPPRESSED_URL, "valueBoolean": True}]
    score = _score(overall)
    if score is not None:
        group["measureScore"] = score
    group["stratifier"] = [
        {"id": name, "code": [{"coding": [{"system": STRATIFIER_SYSTEM, "code": code}], "text": _title(name)}
                              for code in name.split("-")],
         "stratum": [_stratum(row) for row in table.stratifier(name)]}
        for name in stratifiers
    ]
    report["group"] = [group]
    return report
