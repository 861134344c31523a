"""SPM → Specimen, and the older OBR specimen fields → Specimen (v2-to-FHIR IG: SPM[Specimen], OBR[Specimen]).

SPM: SPM-2 placer/filler specimen IDs (EIP) → identifier, SPM-4 → type, SPM-6 → container additive,
SPM-7 → collection.method, SPM-8 → collection.bodySite, SPM-12 → collection.quantity (CQ), SPM-14 →
note, SPM-17 → collection.collected[x] (DR), SPM-18 → receivedTime, SPM-20 → status, SPM-24 →
condition, SPM-27 → container type, SPM-30 → accessionIdentifier.

OBR (versions before SPM, or senders that still use it): OBR-7/OBR-8 → collected[x], OBR-9 →
quantity, OBR-10 → collector, OBR-14 → receivedTime, OBR-15 specimen source (SPS: .1 type, .2
additive, .3 collection method text → note, .4 body site, .6 site modifier → condition), OBR-39
collector's comment → note.
"""

from __future__ import annotations

from typing import Any

from hl7_gateway.errors import ErrorLocation, MappingError
from hl7_gateway.mapping.context import MappingContext
from hl7_gateway.mapping.datatypes import codeable_concept, to_decimal
from hl7_gateway.mapping.units import unit_from_cwe
from hl7_gateway.message import Repetition, Segment

__all__ = ["specimen_from_spm", "specimen_from_obr", "OBR_SPECIMEN_FIELDS"]

OBR_SPECIMEN_FIELDS = (7, 8, 9, 10, 14, 15, 39)


def _concept(rep: Repetition, location: ErrorLocation, ctx: MappingContext) -> dict[str, Any] | None:
    if rep.is_empty:
        return None
    try:
        return codeable_concept(rep, location)
    except MappingError as exc:
        ctx.warn(f"{exc.diagnostics}; left out", location, code=exc.code)
        return None


def _sub_rep(rep: Repetition, component: int) -> Repetition:
    """A component whose parts are subcomponents (e.g. SPS.1 CWE inside OBR-15), as a repetition."""
    return Repetition(tuple((sub,) for sub in rep.subcomponents(component)))


def _quantity(rep: Repetition, location: ErrorLocation, ctx: MappingContext) -> dict[str, Any] | None:
    """CQ (quantity ^ units, units as subcomponents) → SimpleQuantity."""
    if not rep.component(1).strip():
        return None
    try:
        quantity: dict[str, Any] = {"value": to_decimal(rep.component(1))}
    except ValueError as exc:
        ctx.warn(f"{exc}; left out", location)
        return None
    units = unit_from_cwe(_sub_rep(rep, 2))
    if units is not None:
        quantity.update(units.quantity_fields())
    return quantity


def _collected(start: str, end: str, location: ErrorLocation, ctx: MappingContext) -> dict[str, Any]:
    if start and end:
        span = ctx.period(start, end, location)
        return {"collectedPeriod": span} if span else {}
    moment = ctx.datetime(start, location) if start else None
    return {"collectedDateTime": moment} if moment else {}


def specimen_from_spm(spm: Segment, ctx: MappingContext, *, subject: dict[str, Any]
                      ) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The Specimen and its match identifier (filler specimen ID, else placer)."""
    specimen: dict[str, Any] = {"resourceType": "Specimen"}
    ids = spm.field(2)
    placer = ctx.identifier(ids.component(1, 1), ids.component(1, 2), ids.component(1, 3), ids.component(1, 4),
                            type_code="PLAC")
    filler = ctx.identifier(ids.component(2, 1), ids.component(2, 2), ids.component(2, 3), ids.component(2, 4),
                            type_code="FILL")
    identifiers = [i for i in (placer, filler) if i]
    if identifiers:
        specimen["identifier"] = identifiers
    accession = ctx.identifier_from_cx(spm.field(30), spm.location(30, 1)) if spm.is_valued(30) else None
    if accession:
        specimen["accessionIdentifier"] = accession
    available = spm.value(20).upper()
    if available in ("Y", "N"):
        specimen["status"] = "available" if available == "Y" else "unavailable"
    kind = _concept(spm.field(4), spm.location(4, 1), ctx)
    if kind:
        specimen["type"] = kind
    specimen["subject"] = subject
    received = ctx.datetime(spm.value(18), spm.location(18, 1))
    if received:
        specimen["receivedTime"] = received
    collection: dict[str, Any] = {}
    collection.update(_collected(spm.value(17, 1), spm.field(17).component(2), spm.location(17, 1), ctx))
    quantity = _quantity(spm.field(12), spm.location(12, 1), ctx)
    if quantity:
        collection["quantity"] = quantity
    for field, key in ((7, "method"), (8, "bodySite")):
        concept = _concept(spm.field(field), spm.location(field, 1), ctx)
        if concept:
            collection[key] = concept
    if collection:
        specimen["collection"] = collection
    container: dict[str, Any] = {}
    container_type = _concept(spm.field(27), spm.location(27, 1), ctx)
    if container_type:
        container["type"] = container_type
    additive = _concept(spm.field(6), spm.location(6, 1), ctx)
    if additive:
        container["additiveCodeableConcept"] = additive
    if container:
        specimen["container"] = [container]
    conditions = [c for c in (_concept(rep, spm.location(24, repetition=i), ctx)
                              for i, rep in enumerate(spm.repetitions(24), start=1)) if c]
    if conditions:
        specimen["condition"] = conditions
    notes = [rep.text for rep in spm.repetitions(14) if rep.text.strip()]
    if notes:
        specimen["note"] = [{"text": "\n".join(notes)}]
    return specimen, filler or placer


def specimen_from_obr(obr: Segment, ctx: MappingContext, *, subject: dict[str, Any]) -> dict[str, Any] | None:
    """A Specimen from OBR-7..15, or None when none of those fields is valued."""
    if not any(obr.is_valued(n) for n in OBR_SPECIMEN_FIELDS):
        return None
    specimen: dict[str, Any] = {"resourceType": "Specimen"}
    source = obr.field(15)
    kind = _concept(_sub_rep(source, 1), obr.location(15, 1, 1), ctx)
    if kind:
        specimen["type"] = kind
    specimen["subject"] = subject
    received = ctx.datetime(obr.value(14), obr.location(14, 1))
    if received:
        specimen["receivedTime"] = received
    collection: dict[str, Any] = _collected(obr.value(7), obr.value(8), obr.location(7, 1), ctx)
    collector = ctx.practitioner(obr.field(10), obr.location(10, 1)) if obr.is_valued(10) else None
    if collector and "reference" in collector:
        collection["collector"] = collector
    quantity = _quantity(obr.field(9), obr.location(9, 1), ctx)
    if quantity:
        collection["quantity"] = quantity
    site = _concept(_sub_rep(source, 4), obr.location(15, 4, 1), ctx)
    if site:
        collection["bodySite"] = site
    if collection:
        specimen["collection"] = collection
    additive = _concept(_sub_rep(source, 2), obr.location(15, 2, 1), ctx)
    if additive:
        specimen["container"] = [{"additiveCodeableConcept": additive}]
    modifier = _concept(_sub_rep(source, 6), obr.location(15, 6, 1), ctx)
    if modifier:
        specimen["condition"] = [modifier]
    notes = [source.component(3).strip()] if source.component(3).strip() else []
    notes += [", ".join(p for p in (rep.component(1).strip(), rep.component(2).strip()) if p)
              for rep in obr.repetitions(39)]  # OBR-39 collector's comment
    if notes:
        specimen["note"] = [{"text": note} for note in notes if note]
    if len(specimen) == 2 and "subject" in specimen:
        return None
    return specimen
