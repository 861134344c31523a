"""ORU^R01 (unsolicited observation result, HL7 v2.5.1 §7.3.1) → transaction Bundle.

v2-to-FHIR IG message map ORU_R01: each PATIENT_RESULT's PID → Patient, PV1 → Encounter, and each
ORDER_OBSERVATION's ORC/OBR → ServiceRequest, Specimen and DiagnosticReport, OBX → Observation.
"""

from __future__ import annotations

from hl7_gateway.errors import ContentError
from hl7_gateway.mapping.context import MappingContext
from hl7_gateway.mapping.entries import add_encounter, add_patient, add_result_order
from hl7_gateway.mapping.groups import read_groups

__all__ = ["map_oru_r01"]


def map_oru_r01(ctx: MappingContext) -> None:
    patients = read_groups(ctx.message)
    if not any(group.orders for group in patients):
        raise ContentError("ORU^R01 without OBR: no result to file", code=100, location=ctx.message.segments[0].location())
    for group in patients:
        subject = add_patient(group, ctx, authoritative=False)
        encounter = add_encounter(group, ctx, subject=subject, authoritative=False)
        for order in group.orders:
            add_result_order(order, ctx, subject=subject, encounter=encounter)
