"""Adding one group's resources to the transaction, with the request each needs to be refiled safely.

    Patient         lab/order messages: conditional create on the match identifier (an existing patient is
                    reused, never overwritten by a lab's copy of the demographics); ADT: conditional update
    Encounter       with a PV1-19 visit number: conditional create (lab/order) or update (ADT); without
                    one, lab/order messages make no Encounter (IG "Encounters" consideration) and ADT
                    makes one with an id derived from the message
    Practitioner    conditional create on XCN.1 (`MappingContext.practitioner`)
    ServiceRequest  lab results: conditional create on the order number (the order may already exist);
                    order messages: conditional update
    DiagnosticReport, Observation, Specimen (SPM-2)   conditional update on their identifiers, so a
                    corrected or cancelled result replaces what was filed before
    Observation with OBX-11 U and no value: a conditional JSON Patch of status only, keeping the value
                    sent earlier as preliminary
"""

from __future__ import annotations

from typing import Any

from hl7_gateway.errors import ContentError
from hl7_gateway.mapping.bundle import token_query
from hl7_gateway.mapping.context import MappingContext
from hl7_gateway.mapping.encounter import encounter_from_pv1
from hl7_gateway.mapping.groups import ObservationGroup, OrderGroup, PatientGroup
from hl7_gateway.mapping.observation import observation_from_obx
from hl7_gateway.mapping.order import OrderIdentity, order_identity, service_request
from hl7_gateway.mapping.patient import patient_from_pid
from hl7_gateway.mapping.report import diagnostic_report
from hl7_gateway.mapping.specimen import specimen_from_obr, specimen_from_spm

__all__ = ["add_patient", "add_encounter", "add_result_order", "add_order"]

Ref = dict[str, Any]


def _query(identifier: dict[str, Any]) -> str:
    return token_query("identifier", identifier.get("system"), identifier["value"])


def _key(kind: str, identifier: dict[str, Any]) -> str:
    return f"{kind}|{identifier.get('system')}|{identifier['value']}"


def add_patient(group: PatientGroup, ctx: MappingContext, *, authoritative: bool) -> Ref:
    if group.pid is None:
        location = group.orders[0].obr.location() if group.orders and group.orders[0].obr else None
        raise ContentError("no PID segment: the results have no patient to be filed under", code=100,
                           location=location)
    patient, match = patient_from_pid(group.pid, ctx)
    key = _key("Patient", match)
    if authoritative:
        url = ctx.builder.update_matching(key, patient, _query(match))
    else:
        url = ctx.builder.create_if_none_exist(key, patient, _query(match))
    return {"reference": url}


def add_encounter(group: PatientGroup, ctx: MappingContext, *, subject: Ref, authoritative: bool,
                  event_status: str | None = None) -> Ref | None:
    if group.pv1 is None:
        return None
    if not authoritative and not group.pv1.is_valued(19):
        return None
    encounter, visit = encounter_from_pv1(group.pv1, ctx, subject=subject, event_status=event_status,
                                          pv2=group.pv2)
    if visit is None:
        ctx.warn("PV1-19 visit number is empty: later messages cannot update this Encounter",
                 group.pv1.location(19, 1), code=101)
        return {"reference": ctx.builder.update_with_id("Encounter", encounter)}
    key = _key("Encounter", visit)
    if authoritative:
        return {"reference": ctx.builder.update_matching(key, encounter, _query(visit))}
    return {"reference": ctx.builder.create_if_none_exist(key, encounter, _query(visit))}


def _specimens(order: OrderGroup, ctx: MappingContext, subject: Ref, identity: OrderIdentity) -> list[Ref]:
    refs: list[Ref] = []
    groups = list(order.specimens) + ([order.specimen] if order.specimen is not None else [])
    for group in groups:
        specimen, match = specimen_from_spm(group.spm, ctx, subject=subject)
        if match is not None:
            url = ctx.builder.update_matching(_key("Specimen", match), specimen, _query(match))
        else:
            order_key = _key("Order", identity.match) if identity.match else None
            url = ctx.builder.update_with_id(f"Specimen|spm|{group.spm.index}", specimen,
                                             global_key=f"{order_key}|spm|{group.spm.value(1)}" if order_key else None)
        refs.append({"reference": url})
    if not refs and order.obr is not None:
        from_obr = specimen_from_obr(order.obr, ctx, subject=subject)
        if from_obr is not None:
            order_key = _key("Order", identity.match) if identity.match else None
            url = ctx.builder.update_with_id(f"Specimen|obr|{order.obr.index}", from_obr,
                                             global_key=f"{order_key}|obr-specimen" if order_key else None)
            refs.append({"reference": url})
    return refs


def _observation_identifier(group: ObservationGroup, identity: OrderIdentity, ctx: MappingContext,
                            seen: dict[str, int]) -> dict[str, Any] | None:
    base = identity.match
    if base is None:
        return None
    obx = group.obx
    code = obx.value(3, 1)
    name = f"{base['value']}/{obx.value(3, 3) or '-'}/{code}/{obx.value(4) or '-'}"
    seen[name] = seen.get(name, 0) + 1
    if seen[name] > 1:  # the same code and sub-ID twice in one order: keep them apart by position
        name += f"/{seen[name]}"
    identifier = {"system": base.get("system") or ctx.facility_system(), "value": name}
    return identifier


def _observations(groups: list[ObservationGroup], ctx: MappingContext, *, subject: Ref, identity: OrderIdentity,
                  order: OrderGroup | None, based_on: Ref | None, specimen: Ref | None) -> list[Ref]:
    refs: list[Ref] = []
    seen: dict[str, int] = {}
    if identity.match is None and groups:
        anchor = (order.obr or order.orc) if order is not None else None
        ctx.warn("no filler or placer order number: corrections to these results cannot be matched",
                 anchor.location(3, 1) if anchor is not None else groups[0].obx.location(), code=101)
    for group in groups:
        identifier = _observation_identifier(group, identity, ctx, seen)
        mapped = observation_from_obx(group, ctx, subject=subject, identifier=identifier,
                                      obr=order.obr if order else None)
        resource = mapped.resource
        if based_on is not None:
            resource["basedOn"] = [based_on]
        if specimen is not None:
            resource["specimen"] = specimen
        if identifier is None:
            url = ctx.builder.update_with_id(f"Observation|{group.obx.index}", resource)
        elif mapped.status_only:
            ctx.builder.patch_matching(_key("Observation-status", identifier), "Observation", _query(identifier),
                                       [{"op": "replace", "path": "/status", "value": resource["status"]}])
            continue
        else:
            url = ctx.builder.update_matching(_key("Observation", identifier), resource, _query(identifier))
        refs.append({"reference": url})
    return refs


def add_result_order(order: OrderGroup, ctx: MappingContext, *, subject: Ref, encounter: Ref | None) -> None:
    """ORU/OUL order group → ServiceRequest, Specimen(s), Observations and the DiagnosticReport."""
    if order.obr is None:
        raise ContentError("ORC without OBR in a result message", code=100,
                           location=order.orc.location() if order.orc else None)
    identity = order_identity(order, ctx)
    specimens = _specimens(order, ctx, subject, identity)
    request = service_request(order, ctx, identity=identity, subject=subject, encounter=encounter,
                              specimens=specimens)
    if identity.match is not None:
        based_on: Ref = {"reference": ctx.builder.create_if_none_exist(
            _key("ServiceRequest", identity.match), request, _query(identity.match))}
    else:
        based_on = {"reference": ctx.builder.update_with_id(f"ServiceRequest|{order.obr.index}", request)}
    results = _observations(order.observations, ctx, subject=subject, identity=identity, order=order,
                            based_on=based_on, specimen=specimens[0] if len(specimens) == 1 else None)
    for group in order.specimens:
        results += _observations(group.observations, ctx, subject=subject, identity=identity, order=order,
                                 based_on=based_on, specimen=specimens[0] if specimens else None)
    report = diagnostic_report(order, ctx, identity=identity, subject=subject, encounter=encounter,
                               based_on=based_on, results=results, specimens=specimens)
    if identity.match is not None:
        ctx.builder.update_matching(_key("DiagnosticReport", identity.match), report, _query(identity.match))
    else:
        ctx.builder.update_with_id(f"DiagnosticReport|{order.obr.index}", report)


def add_order(order: OrderGroup, ctx: MappingContext, *, subject: Ref, encounter: Ref | None) -> None:
    """ORM/OML order group → ServiceRequest (+ Specimens, and supporting Observations)."""
    identity = order_identity(order, ctx)
    if identity.match is None:
        anchor = order.orc or order.obr
        location = anchor.location(2, 1) if anchor is not None else None
        raise ContentError("an order needs a placer (ORC-2/OBR-2) or filler (ORC-3/OBR-3) order number",
                           code=101, location=location)
    specimens = _specimens(order, ctx, subject, identity)
    request = service_request(order, ctx, identity=identity, subject=subject, encounter=encounter,
                              specimens=specimens)
    ctx.builder.update_matching(_key("ServiceRequest", identity.match), request, _query(identity.match))
    supporting = _observations(order.observations, ctx, subject=subject, identity=identity, order=order,
                               based_on=None, specimen=None)
    if supporting:
        request["supportingInfo"] = supporting
