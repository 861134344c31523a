"""PV1 (+PV2) → Encounter (v2-to-FHIR IG: PV1[Encounter], PV2[Encounter]).

PV1-2 patient class → class (table 0004) and, with the trigger event or PV1-45, status; PV1-19 visit
number → identifier (the match identifier: an A03 discharge finds the A01's Encounter by it);
PV1-3/PV1-6 locations; PV1-7/8/9/17 attending, referring, consulting and admitting doctors as
participants; PV1-36 discharge disposition (table 0112) → hospitalization.dischargeDisposition;
PV1-44/PV1-45 admit and discharge date/time → period.
"""

from __future__ import annotations

from typing import Any

from hl7_gateway.errors import MappingError
from hl7_gateway.mapping import vocabulary as vocab
from hl7_gateway.mapping.context import MappingContext
from hl7_gateway.mapping.datatypes import codeable_concept
from hl7_gateway.message import Repetition, Segment

__all__ = ["encounter_from_pv1"]

_PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
_PARTICIPANTS = ((7, "ATND", "attender"), (8, "REF", "referrer"), (9, "CON", "consultant"), (17, "ADM", "admitter"))
_DISPOSITION = "http://terminology.hl7.org/CodeSystem/discharge-disposition"


def encounter_from_pv1(pv1: Segment, ctx: MappingContext, *, subject: dict[str, Any], event_status: str | None,
                       pv2: Segment | None = None) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The Encounter and its visit-number identifier (None when PV1-19 is empty)."""
    patient_class = pv1.value(2).upper()
    if not patient_class:
        raise MappingError("PV1-2 patient class is required for an Encounter", code=101, location=pv1.location(2, 1))
    system, code, display = vocab.ENCOUNTER_CLASS.get(
        patient_class, (vocab.V2_TABLE.format(4), patient_class, ""))
    encounter: dict[str, Any] = {"resourceType": "Encounter"}
    identifiers = []
    visit = ctx.identifier_from_cx(pv1.field(19), pv1.location(19, 1)) if pv1.is_valued(19) else None
    if visit is not None:
        visit.setdefault("type", {"coding": [{"system": vocab.V2_TABLE.format(203), "code": "VN"}]})
        identifiers.append(visit)
    alternate = ctx.identifier_from_cx(pv1.field(50), pv1.location(50, 1)) if pv1.is_valued(50) else None
    if alternate is not None:
        identifiers.append(alternate)
    if identifiers:
        encounter["identifier"] = identifiers
    encounter["status"] = _status(pv1, patient_class, event_status)
    encounter["class"] = {"system": system, "code": code, **({"display": display} if display else {})}
    for field, key in ((4, "type"), (10, "serviceType")):
        concept = _concept(pv1, field, ctx)
        if concept:
            encounter[key] = [concept] if key == "type" else concept
    encounter["subject"] = subject
    participants = []
    for field, code_, text in _PARTICIPANTS:
        for index, rep in enumerate(pv1.repetitions(field), start=1):
            who = ctx.practitioner(rep, pv1.location(field, repetition=index))
            if who is not None:
                participants.append({"type": [{"coding": [{"system": _PARTICIPATION, "code": code_, "display": text}]}],
                                     "individual": who})
    if participants:
        encounter["participant"] = participants
    span = ctx.period(pv1.value(44), pv1.value(45), pv1.location(44, 1))
    if span:
        encounter["period"] = span
    hospitalization = _hospitalization(pv1, ctx)
    if hospitalization:
        encounter["hospitalization"] = hospitalization
    locations = [loc for loc in (_location(pv1.field(3), "planned" if patient_class == "P" else "active"),
                                 _location(pv1.field(6), "completed")) if loc]
    if locations:
        encounter["location"] = locations
    if pv2 is not None and pv2.value(3, 2):
        encounter["reasonCode"] = [{"text": pv2.value(3, 2)}]
    return encounter, visit


def _status(pv1: Segment, patient_class: str, event_status: str | None) -> str:
    if event_status:
        return event_status
    if pv1.value(45):
        return "finished"
    return vocab.ENCOUNTER_STATUS.get(patient_class, "in-progress")


def _concept(segment: Segment, field: int, ctx: MappingContext, table: int | None = None) -> dict[str, Any] | None:
    rep = segment.field(field)
    if rep.is_empty:
        return None
    try:
        concept = codeable_concept(rep, segment.location(field, 1))
    except MappingError as exc:
        ctx.warn(f"{exc.diagnostics}; left out", segment.location(field, 1), code=exc.code)
        return None
    if concept and table is not None:
        for coding in concept.get("coding", []):
            coding.setdefault("system", vocab.V2_TABLE.format(table))
    return concept


def _hospitalization(pv1: Segment, ctx: MappingContext) -> dict[str, Any]:
    result: dict[str, Any] = {}
    pre_admit = ctx.identifier_from_cx(pv1.field(5), pv1.location(5, 1)) if pv1.is_valued(5) else None
    if pre_admit:
        result["preAdmissionIdentifier"] = pre_admit
    for field, key, table in ((14, "admitSource", 23), (13, "reAdmission", 92), (16, "specialCourtesy", 99)):
        concept = _concept(pv1, field, ctx, table)
        if concept:
            result[key] = [concept] if key == "specialCourtesy" else concept
    disposition = _concept(pv1, 36, ctx, 112)
    if disposition:
        code = pv1.value(36)
        fhir_code = vocab.DISCHARGE_DISPOSITION.get(code.zfill(2) if code.isdigit() else code)
        if fhir_code:
            disposition.setdefault("coding", []).insert(0, {"system": _DISPOSITION, "code": fhir_code})
        result["dischargeDisposition"] = disposition
    if pv1.value(37):
        result["destination"] = {"display": pv1.value(37)}
    return result


def _location(rep: Repetition, status: str) -> dict[str, Any] | None:
    """PL → a display-only Location reference (no Location resources are made from a message)."""
    parts = [rep.component(n).strip() for n in (4, 1, 2, 3)]
    text = " ".join(p for p in parts if p)
    if not text:
        return None
    return {"location": {"display": text}, "status": status}
