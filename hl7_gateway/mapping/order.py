"""ORC + OBR → ServiceRequest (v2-to-FHIR IG: ORC[ServiceRequest], OBR[ServiceRequest], NTE[ServiceRequest]).

The order numbers identify an order everywhere it appears: placer (OBR-2, else ORC-2, type PLAC),
filler (OBR-3, else ORC-3, type FILL). The *match identifier* - the filler number, else the placer
number - finds the same ServiceRequest and DiagnosticReport again, and scopes the identifiers of the
order's Observations. Status: ORC-5 (table 0038) when valued, else ORC-1 (table 0119), else unknown;
intent: reflex-order for OBR-11 G, else order; requester: ORC-12, else OBR-16.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hl7_gateway.errors import MappingError
from hl7_gateway.mapping import vocabulary as vocab
from hl7_gateway.mapping.context import MappingContext
from hl7_gateway.mapping.datatypes import codeable_concept
from hl7_gateway.mapping.groups import OrderGroup
from hl7_gateway.mapping.observation import notes_from_nte
from hl7_gateway.message import EMPTY, Repetition

__all__ = ["OrderIdentity", "order_identity", "service_request"]

_PRIORITY = {"S": "stat", "A": "asap", "R": "routine", "P": "routine", "T": "urgent", "C": "urgent"}


@dataclass(frozen=True, slots=True)
class OrderIdentity:
    placer: dict[str, Any] | None
    filler: dict[str, Any] | None

    @property
    def match(self) -> dict[str, Any] | None:
        return self.filler or self.placer

    @property
    def identifiers(self) -> list[dict[str, Any]]:
        return [i for i in (self.placer, self.filler) if i is not None]


def _first(*reps: Repetition) -> Repetition:
    return next((rep for rep in reps if rep.component(1).strip()), EMPTY)


def order_identity(order: OrderGroup, ctx: MappingContext) -> OrderIdentity:
    obr, orc = order.obr, order.orc

    def number(field: int, kind: str) -> dict[str, Any] | None:
        rep = _first(obr.field(field) if obr else EMPTY, orc.field(field) if orc else EMPTY)
        return ctx.identifier_from_ei(rep, type_code=kind)

    return OrderIdentity(placer=number(2, "PLAC"), filler=number(3, "FILL"))


def order_code(order: OrderGroup) -> dict[str, Any]:
    obr = order.obr
    if obr is None or not obr.is_valued(4):
        location = obr.location(4, 1) if obr is not None else (order.orc.location() if order.orc else None)
        raise MappingError("OBR-4 universal service identifier is required", code=101, location=location)
    concept = codeable_concept(obr.field(4), obr.location(4, 1))
    if concept is None:
        raise MappingError("OBR-4 universal service identifier is required", code=101, location=obr.location(4, 1))
    return concept


def service_request(order: OrderGroup, ctx: MappingContext, *, identity: OrderIdentity, subject: dict[str, Any],
                    encounter: dict[str, Any] | None, specimens: list[dict[str, Any]]) -> dict[str, Any]:
    obr, orc = order.obr, order.orc
    request: dict[str, Any] = {"resourceType": "ServiceRequest"}
    if identity.identifiers:
        request["identifier"] = identity.identifiers
    if orc is not None and orc.value(4):
        group = ctx.identifier_from_ei(orc.field(4), type_code="PGN")
        if group:
            request["requisition"] = group
    request["status"] = _status(order)
    request["intent"] = "reflex-order" if obr is not None and obr.value(11).upper() == "G" else "order"
    priority = _PRIORITY.get((obr.value(5) if obr is not None else "").upper())
    if priority:
        request["priority"] = priority
    request["code"] = order_code(order)
    request["subject"] = subject
    if encounter is not None:
        request["encounter"] = encounter
    if obr is not None:
        when = ctx.datetime(obr.value(6), obr.location(6, 1))
        if when:
            request["occurrenceDateTime"] = when
    if orc is not None and orc.value(1).upper() == "NW":
        authored = ctx.datetime(orc.value(9), orc.location(9, 1))
        if authored:
            request["authoredOn"] = authored
    requester = None
    if orc is not None and orc.is_valued(12):
        requester = ctx.practitioner(orc.field(12), orc.location(12, 1))
    if requester is None and obr is not None and obr.is_valued(16):
        requester = ctx.practitioner(obr.field(16), obr.location(16, 1))
    if requester is not None:
        request["requester"] = requester
    if obr is not None and obr.is_valued(31):
        reasons = []
        for index, rep in enumerate(obr.repetitions(31), start=1):
            try:
                reason = codeable_concept(rep, obr.location(31, repetition=index))
            except MappingError as exc:
                ctx.warn(f"{exc.diagnostics}; left out", obr.location(31, repetition=index), code=exc.code)
                reason = None
            if reason:
                reasons.append(reason)
        if reasons:
            request["reasonCode"] = reasons
    if specimens:
        request["specimen"] = specimens
    notes = notes_from_nte(order.notes, ctx)
    if notes:
        request["note"] = notes
    return request


def _status(order: OrderGroup) -> str:
    orc = order.orc
    if orc is None:
        return "unknown"
    return vocab.ORDER_STATUS.get(orc.value(5).upper()) or vocab.ORDER_CONTROL_STATUS.get(
        orc.value(1).upper(), "unknown")
