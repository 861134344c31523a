"""HL7 v2 → FHIR R4 transaction Bundles, following the HL7 v2-to-FHIR IG (https://build.fhir.org/ig/HL7/v2-to-fhir/).

    result = map_message(message, received_at=now)   # MappingResult(bundle, warnings)
    result.bundle                                     # {"resourceType": "Bundle", "type": "transaction", …}

Supported: ORU^R01 and OUL^R22 (lab results), ADT^A01/A03/A04/A08, ORM^O01 and OML^O21 (orders).
Everything the bundle holds passes `resources.validate()`; numbers are `Decimal`. A message whose
content cannot be mapped raises `MappingError`/`ContentError` (AE) with the segment and field; an
unsupported type or event raises `UnsupportedMessage` (AR); fields dropped on the way come back as
warnings (severity W) for the ACK.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hl7_gateway.errors import ErrorLocation, HL7Error, MappingError, UnsupportedMessage
from hl7_gateway.mapping.adt import map_adt
from hl7_gateway.mapping.context import MappingContext, MappingOptions
from hl7_gateway.mapping.orders import map_order
from hl7_gateway.mapping.oru_r01 import map_oru_r01
from hl7_gateway.mapping.oul_r22 import map_oul_r22
from hl7_gateway.mapping.provenance import add_provenance
from hl7_gateway.message import Message

__all__ = ["MappingOptions", "MappingResult", "SUPPORTED_MESSAGES", "map_message", "check_supported"]

SUPPORTED_MESSAGES: dict[str, dict[str, Callable[[MappingContext], None]]] = {
    "ORU": {"R01": map_oru_r01},
    "OUL": {"R22": map_oul_r22},
    "ADT": {"A01": map_adt, "A03": map_adt, "A04": map_adt, "A08": map_adt},
    "ORM": {"O01": map_order},
    "OML": {"O21": map_order},
}


@dataclass(frozen=True, slots=True)
class MappingResult:
    bundle: dict[str, Any]
    warnings: tuple[HL7Error, ...] = ()


def check_supported(message: Message) -> Callable[[MappingContext], None]:
    """The mapper for MSH-9, or UnsupportedMessage: 200 for the type, 201 for the event (HL7 v2.5.1 §2.9.2)."""
    header = message.header
    events = SUPPORTED_MESSAGES.get(header.message_type.upper())
    if events is None:
        raise UnsupportedMessage(f"message type {header.message_type!r} is not supported "
                                 f"({', '.join(sorted(SUPPORTED_MESSAGES))})", code=200,
                                 location=ErrorLocation("MSH", 1, 9, 1, 1))
    mapper = events.get(header.trigger_event.upper())
    if mapper is None:
        raise UnsupportedMessage(f"event {header.kind!r} is not supported "
                                 f"({', '.join(f'{header.message_type}^{e}' for e in sorted(events))})", code=201,
                                 location=ErrorLocation("MSH", 1, 9, 1, 2))
    return mapper


def map_message(message: Message, *, options: MappingOptions | None = None, received_at: datetime | None = None,
                inbox_id: str | None = None) -> MappingResult:
    """Map one parsed message to a transaction Bundle (see the module docstring for the errors)."""
    mapper = check_supported(message)
    ctx = MappingContext(message, options or MappingOptions())
    if not message.header.timestamp:
        raise MappingError("MSH-7 date/time of message is required", code=101, location=ErrorLocation("MSH", 1, 7, 1))
    ctx.datetime(message.header.timestamp, ErrorLocation("MSH", 1, 7, 1), required=True)
    mapper(ctx)
    received = received_at or datetime.now(UTC)
    if received.tzinfo is None:
        received = received.replace(tzinfo=UTC)
    add_provenance(ctx, received_at=received, inbox_id=inbox_id)
    return MappingResult(ctx.builder.build(), tuple(ctx.warnings))
