"""OUL^R22 (unsolicited specimen-oriented observation, HL7 v2.5.1 §7.3.4) → transaction Bundle.

The specimen leads: each SPM group → Specimen, then its OBR orders → ServiceRequest and
DiagnosticReport with their OBX → Observations, all referring to that Specimen.
"""

from __future__ import annotations

from hl7_gateway.errors import ContentError
from hl7_gateway.mapping.context import MappingContext
from hl7_gateway.mapping.entries import add_encounter, add_patient, add_result_order
from hl7_gateway.mapping.groups import read_groups

__all__ = ["map_oul_r22"]


def map_oul_r22(ctx: MappingContext) -> None:
    patients = read_groups(ctx.message, specimen_first=True)
    if not any(group.orders for group in patients):
        raise ContentError("OUL^R22 without OBR: no result to file", code=100, location=ctx.message.segments[0].location())
    for group in patients:
        subject = add_patient(group, ctx, authoritative=False)
        encounter = add_encounter(group, ctx, subject=subject, authoritative=False)
        for order in group.orders:
            add_result_order(order, ctx, subject=subject, encounter=encounter)
