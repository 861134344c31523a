"""OBR (+ORC) → DiagnosticReport (v2-to-FHIR IG: OBR[DiagnosticReport], ORC[DiagnosticReport]).

OBR-2/OBR-3 → identifier (PLAC, FILL), OBR-4 → code (required), OBR-7/OBR-8 → effectiveDateTime or
effectivePeriod, OBR-22 → issued, OBR-24 → category (table 0074), OBR-25 → status (table 0123; the IG
makes an empty OBR-25 an error, and so are Y and Z). A corrected report (OBR-25 C) carries the same
identifiers, so its conditional update replaces the earlier report.
"""

from __future__ import annotations

from typing import Any

from hl7_gateway.errors import MappingError
from hl7_gateway.mapping import vocabulary as vocab
from hl7_gateway.mapping.context import MappingContext
from hl7_gateway.mapping.groups import OrderGroup
from hl7_gateway.mapping.order import OrderIdentity, order_code

__all__ = ["diagnostic_report", "report_status"]


def report_status(order: OrderGroup) -> str:
    obr = order.obr
    assert obr is not None
    code = obr.value(25).upper()
    if not code:
        raise MappingError("OBR-25 result status is required for a result (IG: 'IF OBR-25 NOT VALUED ERROR')",
                           code=101, location=obr.location(25, 1))
    if code in vocab.REPORT_STATUS_ERRORS:
        raise MappingError(f"result status {code}: {vocab.REPORT_STATUS_ERRORS[code]}", code=204,
                           location=obr.location(25, 1))
    if code not in vocab.REPORT_STATUS:
        raise MappingError(f"result status {code!r} is not in HL7 table 0123", code=103, location=obr.location(25, 1))
    return vocab.REPORT_STATUS[code]


def diagnostic_report(order: OrderGroup, ctx: MappingContext, *, identity: OrderIdentity, subject: dict[str, Any],
                      encounter: dict[str, Any] | None, based_on: dict[str, Any] | None,
                      results: list[dict[str, Any]], specimens: list[dict[str, Any]]) -> dict[str, Any]:
    obr = order.obr
    assert obr is not None
    report: dict[str, Any] = {"resourceType": "DiagnosticReport"}
    if identity.identifiers:
        report["identifier"] = identity.identifiers
    if based_on is not None:
        report["basedOn"] = [based_on]
    report["status"] = report_status(order)
    section = obr.value(24)
    if section:
        report["category"] = [{"coding": [{"system": vocab.V2_TABLE.format(74), "code": section}]}]
    report["code"] = order_code(order)
    report["subject"] = subject
    if encounter is not None:
        report["encounter"] = encounter
    start = ctx.datetime(obr.value(7), obr.location(7, 1))
    end = ctx.datetime(obr.value(8), obr.location(8, 1))
    if start and end:
        report["effectivePeriod"] = {"start": start, "end": end}
    elif start:
        report["effectiveDateTime"] = start
    issued = ctx.instant(obr.value(22), obr.location(22, 1))
    if issued:
        report["issued"] = issued
    if specimens:
        report["specimen"] = specimens
    if results:
        report["result"] = results
    return report
