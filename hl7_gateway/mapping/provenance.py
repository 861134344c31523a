"""MSH → Provenance pointing at the source message (v2-to-FHIR IG: MSH[Provenance-Source]).

One Provenance per message targets every resource the message produced. `entity` (role source)
names the v2 message by its control ID (MSH-10) under a system scoped to the sender (MSH-3/MSH-4) -
the pair the gateway deduplicates on - and, when known, the gateway inbox entry holding its bytes;
`agent` (author) is the sending facility; `occurred`/`recorded` come from MSH-7, `recorded` falling
back to the time the gateway received the message; activity names the message type as the IG does
("message - ORU^R01^ORU_R01"). Its id is derived from the message, so refiling replaces it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from hl7_gateway.mapping.context import MappingContext

__all__ = ["add_provenance", "message_identifier"]

_PARTICIPANT = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"


def message_identifier(ctx: MappingContext) -> dict[str, str]:
    """The source message as an Identifier: MSH-10 under a system naming the sender (MSH-3|MSH-4)."""
    sender = f"{ctx.sending_application}|{ctx.sending_facility}"
    return {"system": f"{ctx.options.local_system_prefix}message:{quote(sender, safe='')}",
            "value": ctx.header.control_id}


def add_provenance(ctx: MappingContext, *, received_at: datetime, inbox_id: str | None = None) -> str:
    header = ctx.header
    targets = [{"reference": url} for url in ctx.builder.full_urls]
    occurred = ctx.datetime(header.timestamp, ctx.message.segments[0].location(7, 1))
    recorded = ctx.instant(header.timestamp, ctx.message.segments[0].location(7, 1)) or \
        received_at.isoformat(timespec="seconds").replace("+00:00", "Z")
    kind = "^".join(p for p in (header.message_type, header.trigger_event, header.structure) if p)
    sender = " / ".join(p for p in (ctx.sending_application, ctx.sending_facility) if p) or "unknown sender"
    what: dict[str, Any] = {"identifier": message_identifier(ctx),
                            "display": f"HL7 v2 {kind} message {header.control_id} from {sender}"}
    entities: list[dict[str, Any]] = [{"role": "source", "what": what}]
    if inbox_id:
        entities.append({"role": "source", "what": {
            "identifier": {"system": f"{ctx.options.local_system_prefix}inbox", "value": inbox_id},
            "display": "gateway inbox entry holding the received bytes"}})
    provenance: dict[str, Any] = {"resourceType": "Provenance", "target": targets}
    if occurred:
        provenance["occurredDateTime"] = occurred
    provenance["recorded"] = recorded
    provenance["activity"] = {"coding": [{"display": f"message - {kind}"}]}
    who: dict[str, Any] = {"display": sender}
    if ctx.sending_facility or ctx.sending_application:
        who["identifier"] = {"system": ctx.local_system("facility"),
                             "value": ctx.sending_facility or ctx.sending_application}
    provenance["agent"] = [{"type": {"coding": [{"system": _PARTICIPANT, "code": "author"}]}, "who": who}]
    provenance["entity"] = entities
    return ctx.builder.update_with_id("Provenance", provenance)
