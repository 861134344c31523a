"""A message's resources and the inbox record of its outcome commit in one transaction (SQLite and
PostgreSQL): a failure after the writes rolls both back, and a filed entry is never filed again."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from urllib.parse import parse_qsl

from sqlalchemy import func, select

from fhir_server.auth.audit import stored_event
from fhir_server.context import DEV_PRINCIPAL, RequestContext
from fhir_server.db.tables import resource_versions
from hl7_gateway.db_inbox import DatabaseInbox
from hl7_gateway.mapping import MappingOptions, map_message
from hl7_gateway.mllp import MLLPClient, MLLPServer
from hl7_gateway.parse import parse_message
from hl7_gateway.retry import RetryPolicy, retry_failed
from hl7_gateway.runner import build_gateway, replay
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


def _from_lab(n: int, *, mrn: bytes = b"1032702") -> bytes:
    """The sample as sent by another lab (MSH-4), with its own control ID, order and patient number."""
    return (ORIGINAL_MODE.replace(b"|LabFac^8.7.6.4^ISO|OrdApp", b"|LabFac%d^8.7.6.4^ISO|OrdApp" % n)
            .replace(b"20251014154001-425", b"GROUP%d" % n).replace(b"LAB4432", b"LAB%d" % n)
            .replace(b"1032702", mrn))


async def test_messages_filed_together_get_their_own_acks_and_a_bad_one_fails_alone(runtime, monkeypatch):
    gateway = build_gateway(runtime)
    filer = gateway.file_bundle
    # two Patients with the bad message's identifier: its conditional create matches both (412 -> AE)
    bad = _from_lab(3, mrn=b"TWICE")
    criteria = next(entry["request"]["ifNoneExist"] for entry in map_message(
        parse_message(bad), options=MappingOptions(), received_at=datetime.now(UTC)).bundle["entry"]
        if entry["resource"]["resourceType"] == "Patient")
    system, _, value = parse_qsl(criteria)[0][1].partition("|")
    ctx = RequestContext(principal=DEV_PRINCIPAL, base_url="http://test/fhir")
    for _ in range(2):
        await runtime.services.resources.create(ctx, "Patient", {"resourceType": "Patient", "identifier": [
            {"system": system, "value": value}]})

    # one group at a time; the first message holds it until every other one waits behind it
    run_in_transaction, release = filer.group.run_in_transaction, asyncio.Event()
    groups: list[int] = []

    async def held(work, **options):
        if not groups:
            groups.append(1)
            await release.wait()
        return await run_in_transaction(work, **options)

    together = filer.group._together

    async def counted(group):
        groups.append(len(group))
        await together(group)

    monkeypatch.setattr(filer.group, "run_in_transaction", held)
    monkeypatch.setattr(filer.group, "max_concurrent", 1)
    monkeypatch.setattr(filer.group, "_together", counted)
    first = asyncio.create_task(gateway.handle(_from_lab(1), "127.0.0.1:1"))
    for _ in range(500):
        if groups:
            break
        await asyncio.sleep(0.01)
    others = [asyncio.create_task(gateway.handle(message, f"127.0.0.1:{n}"))
              for n, message in enumerate([_from_lab(2), bad, _from_lab(4)], start=2)]
    for _ in range(500):
        if len(filer.group._waiting) == 4:
            break
        await asyncio.sleep(0.01)
    release.set()
    acks = [await first, *[await task for task in others]]

    assert groups == [1, 3]  # the first alone, then the three that waited, in one group
    # each its own acknowledgment (MSA-2: its own control ID)
    msa = [ack[ack.index(b"MSA|"):ack.index(b"\r", ack.index(b"MSA|"))] for ack in acks]
    assert msa == [b"MSA|AA|GROUP1", b"MSA|AA|GROUP2", b"MSA|AE|GROUP3", b"MSA|AA|GROUP4"]
    assert b"matched 2 Patient resources" in acks[2] and not any(b"matched 2" in ack for ack in acks[:2] + acks[3:])
    entries = {entry.message.control_id: entry for entry in await gateway.inbox.list()}
    assert {cid: entries[cid].status for cid in entries} == {
        "GROUP1": "processed", "GROUP2": "processed", "GROUP3": "rejected", "GROUP4": "processed"}
    filed = await counts(runtime)
    assert filed.get("DiagnosticReport") == 3 and filed.get("Provenance") == 3
    assert filed.get("Patient") == 3  # the two made above and the one the good messages share


async def test_a_replay_that_maps_to_what_is_stored_makes_no_new_versions(runtime):
    gateway = build_gateway(runtime)
    delivery = await gateway.deliver(ORIGINAL_MODE, "127.0.0.1:1")
    assert delivery.outcome.status == "processed" and delivery.entry_id is not None
    async with runtime.engine.connect() as conn:
        before = (await conn.execute(select(func.count()).select_from(resource_versions))).scalar_one()
    entry = await gateway.inbox.show(delivery.entry_id)
    assert entry is not None
    replayed = await replay(runtime, entry)  # the mapping did not change: every update restates what is stored
    assert replayed.status == "processed"
    assert sorted(replayed.outcome.filed) == sorted(delivery.outcome.filed)  # type: ignore[union-attr]
    async with runtime.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(resource_versions))).scalar_one() == before


async def test_the_reads_of_a_message_are_recorded_with_its_writes(runtime):
    gateway = build_gateway(runtime)
    first = await gateway.deliver(ORIGINAL_MODE, "127.0.0.1:1")
    assert first.outcome.status == "processed"
    audit = runtime.audit
    before_flushes, before = audit.flushes, len(await audit.log.waiting())
    # the same patient and ordering provider again: the conditional matches read them
    again = await gateway.deliver(ORIGINAL_MODE.replace(b"20251014154001-425", b"READS1")
                                  .replace(b"LAB4432", b"LABREADS1"), "127.0.0.1:1")
    assert again.outcome.status == "processed"
    events = [stored_event(item) for item in (await audit.log.waiting())[before:]]
    actions = [event.get("action") for event in events]
    assert "R" in actions and ("C" in actions or "U" in actions)  # the reads, beside the writes
    assert audit.flushes == before_flushes  # no commit of their own after the message's
