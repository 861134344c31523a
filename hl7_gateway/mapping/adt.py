"""ADT^A01 admit, A03 discharge, A04 register, A08 update (HL7 v2.5.1 §3.3) → transaction Bundle.

v2-to-FHIR IG message map ADT_A01 (A03, A04 and A08 share its structure): PID → Patient and PV1/PV2
→ Encounter, both as conditional updates - ADT is the source of truth for demographics and visits.
The trigger event sets Encounter.status (IG: Event[EncounterStatus]); an A03 also carries the
discharge date (PV1-45, else EVN-6 event occurred) and disposition (PV1-36).
"""

from __future__ import annotations

from datetime import UTC, datetime

from hl7_gateway.errors import ContentError
from hl7_gateway.mapping import vocabulary as vocab
from hl7_gateway.mapping.context import MappingContext
from hl7_gateway.mapping.entries import add_encounter, add_patient
from hl7_gateway.mapping.groups import read_groups

__all__ = ["map_adt"]


def map_adt(ctx: MappingContext) -> None:
    event = ctx.header.trigger_event.upper()
    patients = [group for group in read_groups(ctx.message) if group.pid is not None]
    if not patients:
        raise ContentError(f"ADT^{event} without PID", code=100, location=ctx.message.segments[0].location())
    group = patients[0]
    subject = add_patient(group, ctx, authoritative=True)
    if group.pv1 is None:
        if event in ("A01", "A03", "A04"):
            raise ContentError(f"ADT^{event} requires PV1", code=100, location=group.pid.location() if group.pid else None)
        return
    encounter_ref = add_encounter(group, ctx, subject=subject, authoritative=True,
                                  event_status=vocab.ADT_EVENTS.get(event))
    if event == "A03" and encounter_ref is not None:
        _discharge_time(ctx, encounter_ref["reference"])


def _discharge_time(ctx: MappingContext, full_url: str) -> None:
    """A03 without PV1-45: the discharge happened at EVN-6 (event occurred), else EVN-2 (recorded)."""
    evn = ctx.message.segment("EVN")
    for entry in ctx.builder.build()["entry"]:
        resource = entry["resource"]
        if entry["fullUrl"] != full_url or resource.get("period", {}).get("end"):
            continue
        when = None
        if evn is not None:
            when = ctx.datetime(evn.value(6), evn.location(6, 1)) or ctx.datetime(evn.value(2), evn.location(2, 1))
        if when:
            period = resource.setdefault("period", {})
            if "start" in period and _moment(period["start"]) > _moment(when):
                ctx.warn(f"EVN discharge time {when} is before the admission {period['start']}; period.end left out",
                         evn.location(6, 1) if evn is not None else ctx.message.segments[0].location())
                continue
            period["end"] = when


def _moment(text: str) -> datetime:
    """A FHIR dateTime as an aware datetime (a date alone counts as its midnight UTC)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00") if "T" in text else (text + "-01-01")[:10])
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
