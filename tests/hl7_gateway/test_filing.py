"""A message's resources and the inbox record of its outcome commit in one transaction (SQLite and
PostgreSQL): a failure after the writes rolls both back, and a filed entry is never filed again."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from fhir_server.db.tables import resource_versions
from hl7_gateway.db_inbox import DatabaseInbox
from hl7_gateway.mllp import MLLPClient, MLLPServer
from hl7_gateway.parse import parse_message
from hl7_gateway.retry import RetryPolicy, retry_failed
from hl7_gateway.runner import build_gateway
from tests.hl7_gateway.test_end_to_end import ORU, counts

ORIGINAL_MODE = ORU.replace(b"|AL|AL|USA|", b"|||USA|")


async def test_a_failure_after_the_writes_rolls_back_resources_and_outcome(runtime, monkeypatch):
    gateway = build_gateway(runtime)
    record_in = DatabaseInbox.record_outcome_in
    crashes = []

    async def crash_after_recording(self, tx, entry_id, outcome, *, refile=False):
        # the resources are written and the outcome is recorded in the transaction; then it fails
        await record_in(self, tx, entry_id, outcome, refile=refile)
        crashes.append(entry_id)
        raise ConnectionError("connection lost before the commit")

    monkeypatch.setattr(DatabaseInbox, "record_outcome_in", crash_after_recording)
    async with (MLLPServer(gateway.handle, host="127.0.0.1", port=0) as server,
                await MLLPClient.connect("127.0.0.1", server.port) as client):
        ack = await client.send(ORIGINAL_MODE)
    assert b"MSA|AR|" in ack and crashes
    assert await counts(runtime) == {}  # not one resource committed
    [entry] = await gateway.inbox.list()
    # only the failure recorded after the rollback counts: the in-transaction "processed" is gone
    assert (entry.status, entry.attempts) == ("failed", 1)

    monkeypatch.setattr(DatabaseInbox, "record_outcome_in", record_in)
    assert await retry_failed(gateway, RetryPolicy(first_delay=0)) == 1
    shown = await gateway.inbox.show(entry.id)
    assert shown is not None and shown.status == "processed" and shown.attempts == 2
    filed = await counts(runtime)
    assert filed.get("DiagnosticReport") == 1 and filed.get("Provenance") == 1
    assert any(path.startswith("DiagnosticReport/") for path in shown.outcome.filed)  # type: ignore[union-attr]
    assert await retry_failed(gateway, RetryPolicy(first_delay=0)) == 0


async def test_a_second_process_does_not_file_an_entry_filed_meanwhile(runtime):
    first, second = build_gateway(runtime), build_gateway(runtime)  # two gateway processes, one database
    delivery = await first.deliver(ORIGINAL_MODE, "127.0.0.1:1")
    assert delivery.outcome.status == "processed" and delivery.entry_id is not None
    filed = await counts(runtime)
    # the second still sees the entry as unfinished (a stale read) and processes it
    outcome = await second.process(parse_message(ORIGINAL_MODE), delivery.entry_id, datetime.now(UTC))
    assert outcome.status == "processed" and await counts(runtime) == filed
    async with runtime.engine.connect() as conn:
        versions = (await conn.execute(select(func.count()).select_from(resource_versions))).scalar_one()
    assert versions == sum(filed.values())  # every resource at version 1: nothing written twice


async def test_each_message_has_its_own_context_whose_audit_is_flushed(runtime, monkeypatch):
    gateway = build_gateway(runtime)
    access = runtime.services.resources.access
    flush = access.flush
    collected: list[tuple[object, int]] = []

    async def counting_flush(ctx):
        collected.append((ctx, len(ctx.audit)))
        await flush(ctx)
        assert ctx.audit == []

    monkeypatch.setattr(access, "flush", counting_flush)
    for n in range(3):  # the same patient each time: its conditional create reads it from the second on
        delivery = await gateway.deliver(ORIGINAL_MODE.replace(b"20251014154001-425", b"CTX%d" % n)
                                         .replace(b"LAB4432", b"LAB%d" % n), "127.0.0.1:1")
        assert delivery.outcome.status == "processed"
    assert len({id(ctx) for ctx, _ in collected}) == 3  # a fresh context per message: nothing piles up
    assert collected[1][1] == collected[2][1]  # as many read events for the third message as for the second
