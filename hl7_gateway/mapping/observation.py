"""OBX (+NTE) → Observation (v2-to-FHIR IG: OBX[Observation], NTE[Observation]).

OBX-3 → code (required), OBX-5/OBX-2/OBX-6 → value[x] (`hl7_gateway.mapping.values`), OBX-7 →
referenceRange, OBX-8 → interpretation (table 0078 → v3 ObservationInterpretation), OBX-11 → status
(table 0085, with the codes the IG leaves open decided in `vocabulary.OBSERVATION_STATUS`), OBX-14 →
effective (else OBR-7), OBX-16 → performer (Practitioner), OBX-17 → method, OBX-23 → performer
(Organization, by name), NTE-3 → note. An empty OBX-5 gets a dataAbsentReason: not-asked for OBX-11
N (IG), not-performed for X, unknown otherwise.

The identifier that lets a corrected result (OBX-11 C) replace the same Observation is built from the
order's filler number (else placer number), OBX-3 and OBX-4: `<order number>/<OBX-3 code>/<OBX-4>`
under the order number's system.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from hl7_gateway.errors import MappingError
from hl7_gateway.mapping import vocabulary as vocab
from hl7_gateway.mapping.context import MappingContext
from hl7_gateway.mapping.datatypes import codeable_concept, to_decimal
from hl7_gateway.mapping.groups import ObservationGroup
from hl7_gateway.mapping.units import unit_from_cwe
from hl7_gateway.mapping.values import observation_values
from hl7_gateway.message import Segment

__all__ = ["MappedObservation", "observation_from_obx", "notes_from_nte"]

_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
_RANGE = re.compile(r"\s*([+-]?(?:\d+\.?\d*|\.\d+))\s*(?:-|–|_|to)\s*([+-]?(?:\d+\.?\d*|\.\d+))\s*")


@dataclass(frozen=True, slots=True)
class MappedObservation:
    resource: dict[str, Any]
    status_only: bool
    """OBX-11 U with no value: only the status changes (the earlier value must be kept)."""


def notes_from_nte(notes: list[Segment], ctx: MappingContext) -> list[dict[str, Any]]:
    """NTE → Annotation: NTE-3 repetitions as lines, NTE-5 author, NTE-6 time (IG: NTE[Observation])."""
    annotations = []
    for nte in notes:
        text = "\n".join(rep.text for rep in nte.fields[3]) if len(nte.fields) > 3 else ""
        if not text.strip():
            continue
        note: dict[str, Any] = {"text": text}
        author = ctx.practitioner(nte.field(5), nte.location(5, 1)) if nte.is_valued(5) else None
        if author is not None:
            if "reference" in author:
                note["authorReference"] = author
            else:
                note["authorString"] = author["display"]
        when = ctx.datetime(nte.value(6), nte.location(6, 1))
        if when:
            note["time"] = when
        annotations.append(note)
    return annotations


def observation_from_obx(group: ObservationGroup, ctx: MappingContext, *, subject: dict[str, Any] | None,
                         identifier: dict[str, Any] | None, obr: Segment | None = None,
                         category: str | None = "laboratory") -> MappedObservation:
    obx = group.obx
    code = codeable_concept(obx.field(3), obx.location(3, 1)) if obx.is_valued(3) else None
    if code is None:
        raise MappingError("OBX-3 observation identifier is required", code=101, location=obx.location(3, 1))
    raw_status = obx.value(11).upper()
    status = _status(obx, raw_status, ctx)
    observation: dict[str, Any] = {"resourceType": "Observation"}
    if identifier is not None:
        observation["identifier"] = [identifier]
    observation["status"] = status
    if raw_status == "X":
        observation["_status"] = {"extension": [{
            "url": "http://hl7.org/fhir/StructureDefinition/alternate-codes",
            "valueCodeableConcept": {"coding": [{"system": vocab.V2_TABLE.format(85), "code": "X"}]}}]}
    if category:
        observation["category"] = [{"coding": [{"system": _CATEGORY, "code": category}]}]
    observation["code"] = code
    if subject is not None:
        observation["subject"] = subject
    effective = ctx.datetime(obx.value(14), obx.location(14, 1)) or (
        ctx.datetime(obr.value(7), obr.location(7, 1)) if obr is not None else None)
    if effective:
        observation["effectiveDateTime"] = effective
    issued = ctx.instant(obr.value(22), obr.location(22, 1)) if obr is not None and obr.value(22) else None
    if issued:
        observation["issued"] = issued
    performers = [p for p in (ctx.practitioner(rep, obx.location(16, repetition=i))
                              for i, rep in enumerate(obx.repetitions(16), start=1)) if p]
    if obx.value(23):
        performers.append({"display": obx.value(23)})
    if performers:
        observation["performer"] = performers
    values = [v for v in observation_values(obx, ctx) if v]
    if len(values) == 1:
        observation.update(values[0])
    elif len(values) > 1:  # IG: OBX[Observation-Component] when OBX-5 repeats
        observation["component"] = [{"code": code, **value} for value in values if "extension" not in value]
    if not values:
        observation["dataAbsentReason"] = {"coding": [{"system": vocab.DATA_ABSENT, "code": {
            "N": "not-asked", "X": "not-performed"}.get(raw_status, "unknown")}]}
    interpretation = _interpretation(obx, ctx)
    if interpretation:
        observation["interpretation"] = interpretation
    notes = notes_from_nte(group.notes, ctx)
    if notes:
        observation["note"] = notes
    if obx.is_valued(17):
        try:
            method = codeable_concept(obx.field(17), obx.location(17, 1))
        except MappingError as exc:
            ctx.warn(f"{exc.diagnostics}; left out", obx.location(17, 1), code=exc.code)
            method = None
        if method:
            observation["method"] = method
    reference_range = _reference_range(obx)
    if reference_range:
        observation["referenceRange"] = [reference_range]
    return MappedObservation(observation, status_only=raw_status == "U" and not values)


def _status(obx: Segment, raw: str, ctx: MappingContext) -> str:
    if not raw:
        ctx.warn("OBX-11 observation result status is required; status set to 'unknown'", obx.location(11, 1),
                 code=101)
        return "unknown"
    if raw not in vocab.OBSERVATION_STATUS:
        raise MappingError(f"result status {raw!r} is not in HL7 table 0085", code=103, location=obx.location(11, 1))
    return vocab.OBSERVATION_STATUS[raw]


def _interpretation(obx: Segment, ctx: MappingContext) -> list[dict[str, Any]]:
    result = []
    for rep in obx.repetitions(8):
        code = rep.component(1).strip()
        if not code:
            continue
        mapped = vocab.INTERPRETATION.get(code.upper())
        if mapped is not None:
            coding: dict[str, Any] = {"system": vocab.V3_INTERPRETATION, "code": mapped}
        else:
            coding = {"system": vocab.V2_TABLE.format(78), "code": code}
        if rep.component(2).strip():
            coding["display"] = rep.component(2).strip()
        result.append({"coding": [coding]})
    return result


def _reference_range(obx: Segment) -> dict[str, Any] | None:
    """OBX-7 → referenceRange.text (IG), with low/high when the text is a plain 'a-b' range."""
    text = obx.value(7)
    if not text:
        return None
    reference: dict[str, Any] = {}
    match = _RANGE.fullmatch(text)
    if match:
        units = unit_from_cwe(obx.field(6))
        extra = units.quantity_fields() if units is not None else {}
        reference["low"] = {"value": to_decimal(match.group(1)), **extra}
        reference["high"] = {"value": to_decimal(match.group(2)), **extra}
    reference["text"] = text
    return reference
