"""The service layer's access guard: what it audits, and that a long-lived context cannot pile up events."""

from __future__ import annotations

import asyncio
from typing import Any

from fhir_server.context import Principal, RequestContext
from fhir_server.services.access import MAX_HELD_EVENTS, patients_in

SYSTEM = Principal(subject="lab-feed", role="system", scopes=frozenset({"system/Observation.rs"}))


async def test_a_long_lived_context_records_its_events_instead_of_holding_them(runtime: Any) -> None:
    guard = runtime.access
    await runtime.audit.catch_up()
    ctx = RequestContext(SYSTEM, "http://localhost/fhir")
    for n in range(MAX_HELD_EVENTS + 10):
        guard.read(ctx, "read", "Observation", f"o{n}")
    assert len(ctx.audit) == 10
    for _ in range(100):
        if await runtime.audit.log.pending() >= MAX_HELD_EVENTS:
            break
        await asyncio.sleep(0.05)
    assert await runtime.audit.log.pending() == MAX_HELD_EVENTS
    await guard.flush(ctx)
    assert ctx.audit == [] and await runtime.audit.log.pending() == MAX_HELD_EVENTS + 10


def test_patients_are_found_in_the_stored_json() -> None:
    body = b'{"resourceType":"Observation","subject":{"reference":"Patient/p1"},"performer":[{"reference":"Patient/p2"}]}'
    assert patients_in("Observation", "o1", body) == ["p1", "p2"]
    assert patients_in("Patient", "p9", b'{"link":[{"other":{"reference":"Patient/p8"}}]}') == ["p9", "p8"]
    assert patients_in("Practitioner", "x", b'{"resourceType":"Practitioner"}') == []


async def test_waiting_audit_events_survive_a_key_rotation(runtime: Any) -> None:
    from fhir_server.storage.crypto import FileKeyring

    trail = runtime.audit
    await trail.catch_up()
    await trail.record([{"resourceType": "AuditEvent", "type": {"code": "rest"}, "recorded": "2026-11-23T10:00:00Z",
                         "agent": [{"requestor": True}], "source": {"observer": {"display": "test"}}}])
    keyring = runtime.keyring
    assert isinstance(keyring, FileKeyring)
    keyring.add_active_key()
    assert await trail.log.reseal() == 1
    assert await trail.log.reseal() == 0  # already under the active key
    keyring.retire_keys_except_active()
    assert await trail.catch_up() == 1
