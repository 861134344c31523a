"""The gateway's inbox over the real database (SQLite and PostgreSQL), raw bytes sealed at rest."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from fhir_server.db.inbox_tables import inbox_messages
from fhir_server.storage.inbox import InboxStore
from hl7_gateway.db_inbox import DatabaseInbox
from hl7_gateway.errors import ErrorLocation
from hl7_gateway.inbox import AlreadySettled, ErrorRecord, InboundMessage, Outcome

RAW = b"MSH|^~\\&|LAB|GENERAL HOSPITAL|EHR|WARD|20261123101500||ORU^R01|MSG0001|P|2.5.1\rPID|1||MRN-77^^^HOSP^MR||Okafor^Adaeze\r"


def message(control_id="MSG0001", raw=RAW):
    return InboundMessage(raw, "LAB", "GENERAL HOSPITAL", control_id, datetime(2026, 11, 23, 10, 15, tzinfo=UTC),
                          "127.0.0.1:50000", "ORU^R01")


async def test_store_find_record_and_list(runtime):
    inbox = DatabaseInbox(InboxStore(runtime.store))
    first = await inbox.store(message())
    second = await inbox.store(message())
    original = await inbox.find_original(sending_application="LAB", sending_facility="GENERAL HOSPITAL",
                                         control_id="MSG0001", before=second)
    assert original is not None and original.id == first and original.message.raw == RAW
    assert await inbox.find_original(sending_application="LAB", sending_facility="GENERAL HOSPITAL",
                                     control_id="MSG0001", before=first) is None
    assert [e.id for e in await inbox.unfinished()] == [first, second]
    error = ErrorRecord(101, "PID-3 is empty", "AE", ErrorLocation("PID", 1, 3), "E")
    await inbox.record_outcome(first, Outcome("rejected", "AE", (error,)))
    shown = await inbox.show(first)
    assert shown is not None and shown.status == "rejected" and shown.attempts == 1
    assert shown.outcome is not None and shown.outcome.errors == (error,)
    assert shown.message.received_at == datetime(2026, 11, 23, 10, 15, tzinfo=UTC)
    assert [e.id for e in await inbox.unfinished()] == [second]
    assert [e.id for e in await inbox.list(status="rejected")] == [first]
    assert [e.id for e in await inbox.list()] == [second, first]
    assert await inbox.show("nope") is None


async def test_raw_bytes_are_sealed_at_rest(runtime):
    inbox = DatabaseInbox(InboxStore(runtime.store))
    await inbox.store(message())
    async with runtime.engine.connect() as conn:
        stored = (await conn.execute(select(inbox_messages.c.raw))).scalar_one()
    assert b"Okafor" not in bytes(stored) and b"MRN-77" not in bytes(stored)


async def test_recording_inside_a_transaction_refuses_an_entry_filed_already(runtime):
    records = InboxStore(runtime.store)
    inbox = DatabaseInbox(records)
    entry = await inbox.store(message())
    processed = Outcome("processed", "AA", filed=["Patient/p/_history/1"])
    async with runtime.store.write() as tx:
        await inbox.record_outcome_in(tx, entry, processed)
    with pytest.raises(AlreadySettled):
        async with runtime.store.write() as tx:
            await inbox.record_outcome_in(tx, entry, processed)
    async with runtime.store.write() as tx:  # an operator's replay may refile it
        await inbox.record_outcome_in(tx, entry, processed, refile=True)
    shown = await inbox.show(entry)
    assert shown is not None and shown.status == "processed" and shown.attempts == 2
    assert shown.outcome is not None and shown.outcome.filed == ["Patient/p/_history/1"]


async def test_unfinished_by_status_and_attempts(runtime):
    inbox = DatabaseInbox(InboxStore(runtime.store))
    received, failed, exhausted = [await inbox.store(message(f"M{n}")) for n in range(3)]
    failure = Outcome("failed", "AR", (ErrorRecord(207, "database down", "AR"),))
    await inbox.record_outcome(failed, failure)
    for _ in range(3):
        await inbox.record_outcome(exhausted, failure)
    assert [e.id for e in await inbox.unfinished()] == [received, failed, exhausted]
    assert [e.id for e in await inbox.unfinished(statuses=("failed",), max_attempts=3)] == [failed]
    shown = await inbox.show(failed)
    assert shown is not None and shown.updated_at is not None
    assert abs((datetime.now(UTC) - shown.updated_at).total_seconds()) < 60
