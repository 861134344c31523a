"""A lab sends results over a real MLLP socket; the server files them as FHIR, exactly once."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from fhir_server.db.tables import resources
from hl7_gateway.inbox import InboundMessage
from hl7_gateway.mllp import MLLPClient, MLLPServer
from hl7_gateway.runner import build_gateway

SAMPLES = Path(__file__).parent / "samples" / "messages"
ORU = (SAMPLES / "16_v2tofhir_IG_ORU_R01_v2.5.1_UTF8_SN_PRT.hl7").read_bytes().replace(b"\r\n", b"\r").replace(b"\n", b"\r")


async def counts(runtime):
    async with runtime.engine.connect() as conn:
        rows = await conn.execute(select(resources.c.res_type, func.count()).where(resources.c.deleted.is_(False))
                                  .group_by(resources.c.res_type))
        return dict(rows.all())


async def test_oru_over_mllp_is_filed_once_and_acknowledged(runtime):
    gateway = build_gateway(runtime)
    async with (MLLPServer(gateway.handle, host="127.0.0.1", port=0) as server,
                await MLLPClient.connect("127.0.0.1", server.port) as client):
        ack = await client.send(ORU)
        assert b"MSA|CA|" in ack, ack  # this sample asks for enhanced-mode acknowledgement (MSH-15)
        filed = await counts(runtime)
        assert filed.get("Patient") == 1 and filed.get("DiagnosticReport") == 1
        assert filed.get("Observation", 0) >= 1 and filed.get("Provenance") == 1
        again = await client.send(ORU)  # the lab did not see the first ACK and resends
        assert b"MSA|CA|" in again
        assert await counts(runtime) == filed


async def test_a_message_left_unfinished_by_a_crash_is_filed_once_on_restart(runtime):
    gateway = build_gateway(runtime)
    # the inbox commit happened, then the process died before filing
    entry_id = await gateway.inbox.store(InboundMessage(ORU, "LAB", "HOSPITAL", "crash-1", datetime.now(UTC),
                                                        "127.0.0.1:1", "ORU^R01"))
    assert await counts(runtime) == {}
    restarted = build_gateway(runtime)
    assert await restarted.recover() == 1
    shown = await restarted.inbox.show(entry_id)
    assert shown is not None and shown.status == "processed"
    filed = await counts(runtime)
    assert filed.get("DiagnosticReport") == 1
    assert await restarted.recover() == 0
    assert await counts(runtime) == filed
