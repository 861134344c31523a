"""ORM^O01 (general order, HL7 v2.5.1 §4.4.1) and OML^O21 (laboratory order, §4.4.6) → transaction Bundle.

v2-to-FHIR IG message maps ORM_O01 and OML_O21: PID → Patient, PV1 → Encounter, each ORC with its
OBR → ServiceRequest (conditional update: the order message is the order's source of truth), SPM →
Specimen, OBX in the order → Observation as supporting information.
"""

from __future__ import annotations

from hl7_gateway.errors import ContentError
from hl7_gateway.mapping.context import MappingContext
from hl7_gateway.mapping.entries import add_encounter, add_order, add_patient
from hl7_gateway.mapping.groups import read_groups

__all__ = ["map_order"]


def map_order(ctx: MappingContext) -> None:
    patients = read_groups(ctx.message)
    if not any(group.orders for group in patients):
        raise ContentError(f"{ctx.header.kind} without ORC: no order to file", code=100,
                           location=ctx.message.segments[0].location())
    for group in patients:
        subject = add_patient(group, ctx, authoritative=False)
        encounter = add_encounter(group, ctx, subject=subject, authoritative=False)
        for order in group.orders:
            add_order(order, ctx, subject=subject, encounter=encounter)
