"""The gateway composition (frame → parse → inbox → dedupe → map → file → ACK) without sockets.

`MemoryInbox` below is a test double of `hl7_gateway.Inbox`: the integration implements the same
contract over the database (`hl7_inbox`); here a dict stands in for the table.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from fhir_server.errors import Unprocessable
from hl7_gateway import (
    Gateway,
    InboundMessage,
    InboxEntry,
    InboxStatus,
    MLLPClient,
    MLLPServer,
    Outcome,
    parse_message,
)
from hl7_gateway.inbox import FILED_STATUSES, UNFINISHED_STATUSES, AlreadySettled
from tests.hl7_gateway.conftest import sample

NOW = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


class MemoryInbox:
    """In-memory `Inbox` for tests; `fail_store`/`fail_record` simulate a database that is down.
    A "transaction" is a list of pending changes that `RecordingFiler` applies when it commits."""

    def __init__(self) -> None:
        self.entries: dict[str, InboxEntry] = {}
        self._ids = itertools.count(1)
        self.fail_store = False
        self.fail_record = False
        self.now = NOW

    async def store(self, message: InboundMessage) -> str:
        if self.fail_store:
            raise ConnectionError("database unavailable")
        entry_id = f"m{next(self._ids):06d}"
        self.entries[entry_id] = InboxEntry(entry_id, message, updated_at=self.now)
        return entry_id

    async def find_original(self, *, sending_application: str, sending_facility: str, control_id: str,
                            before: str) -> InboxEntry | None:
        for entry in sorted(self.entries.values(), key=lambda e: e.id):
            if entry.id >= before:
                break
            m = entry.message
            if (m.sending_application, m.sending_facility, m.control_id) == (
                    sending_application, sending_facility, control_id):
                return entry
        return None

    async def record_outcome(self, entry_id: str, outcome: Outcome) -> None:
        if self.fail_record:
            raise ConnectionError("database unavailable")
        self._set(entry_id, outcome)

    async def record_outcome_in(self, tx: list[Any], entry_id: str, outcome: Outcome, *, refile: bool = False) -> None:
        if self.fail_record:
            raise ConnectionError("database unavailable")
        if not refile and self.entries[entry_id].status in FILED_STATUSES:
            raise AlreadySettled(entry_id)
        tx.append(lambda: self._set(entry_id, outcome))

    def _set(self, entry_id: str, outcome: Outcome) -> None:
        entry = self.entries[entry_id]
        self.entries[entry_id] = replace(entry, status=outcome.status, outcome=outcome, attempts=entry.attempts + 1,
                                         history=(*entry.history, outcome), updated_at=self.now)

    async def unfinished(self, *, limit: int = 100, statuses: tuple[InboxStatus, ...] = UNFINISHED_STATUSES,
                         max_attempts: int | None = None) -> list[InboxEntry]:
        return [e for e in sorted(self.entries.values(), key=lambda e: e.id)
                if e.status in statuses and (max_attempts is None or e.attempts < max_attempts)][:limit]

    async def list(self, *, status: InboxStatus | None = None, limit: int = 50,
                   before: str | None = None) -> list[InboxEntry]:
        found = [e for e in sorted(self.entries.values(), key=lambda e: e.id, reverse=True)
                 if (status is None or e.status == status) and (before is None or e.id < before)]
        return found[:limit]

    async def show(self, entry_id: str) -> InboxEntry | None:
        return self.entries.get(entry_id)


class RecordingFiler:
    """Stands in for the FHIR transaction service: records bundles, can fail on demand. What `settle`
    records commits with the bundle; if `settle` raises, neither does (the transaction rolls back)."""

    def __init__(self) -> None:
        self.bundles: list[dict[str, Any]] = []
        self.error: Exception | None = None

    async def __call__(self, bundle: dict[str, Any], settle: Any) -> list[str]:
        if self.error is not None:
            raise self.error
        filed = [f"{e['resource']['resourceType']}/x/_history/1" for e in bundle["entry"]]
        pending: list[Any] = []
        await settle(pending, filed)
        self.bundles.append(bundle)
        for change in pending:
            change()
        return filed


# -- tests ---------------------------------------------------------------------------------------

IG_ORU = sample("16_v2tofhir")
ORIGINAL_MODE = IG_ORU.replace(b"|AL|AL|USA|", b"|||USA|")  # MSH-15/16 empty: original acknowledgment mode


def msa(ack: bytes) -> list[str]:
    line = next(line for line in ack.decode("utf-8").split("\r") if line.startswith("MSA"))
    return line.split("|")


def err(ack: bytes) -> list[str]:
    return next(line for line in ack.decode("utf-8").split("\r") if line.startswith("ERR")).split("|")


def make() -> tuple[Gateway, MemoryInbox, RecordingFiler]:
    inbox, filer = MemoryInbox(), RecordingFiler()
    gateway = Gateway(inbox=inbox, file_bundle=filer, clock=lambda: NOW)
    return gateway, inbox, filer


async def test_aa_after_the_bundle_is_filed_and_the_message_stored() -> None:
    gateway, inbox, filer = make()
    ack = await gateway.handle(ORIGINAL_MODE, "10.0.0.1:5000")
    assert msa(ack)[:3] == ["MSA", "AA", "20251014154001-425"]
    [entry] = inbox.entries.values()
    assert entry.message.raw == ORIGINAL_MODE and entry.message.peer == "10.0.0.1:5000"
    assert entry.message.control_id == "20251014154001-425" and entry.status == "processed"
    assert len(filer.bundles) == 1 and filer.bundles[0]["type"] == "transaction"
    provenance = next(e["resource"] for e in filer.bundles[0]["entry"] if e["resource"]["resourceType"] == "Provenance")
    assert provenance["entity"][1]["what"]["identifier"]["value"] == entry.id


async def test_retransmission_is_reacknowledged_not_refiled() -> None:
    gateway, inbox, filer = make()
    first = await gateway.handle(ORIGINAL_MODE, "peer")
    second = await gateway.handle(ORIGINAL_MODE, "peer")
    assert msa(first)[:3] == msa(second)[:3] == ["MSA", "AA", "20251014154001-425"]
    assert len(filer.bundles) == 1
    original, duplicate = inbox.entries.values()
    assert duplicate.status == "duplicate" and duplicate.outcome is not None
    assert duplicate.outcome.duplicate_of == original.id


async def test_retransmission_of_a_rejected_message_gets_the_same_ae() -> None:
    gateway, _, filer = make()
    bad = ORIGINAL_MODE.replace(b"OBX|2|NM|", b"OBX|2|FN|")
    first, second = await gateway.handle(bad, "p"), await gateway.handle(bad, "p")
    assert msa(first)[1] == msa(second)[1] == "AE"
    assert err(first)[2:4] == err(second)[2:4] == ["OBX^2^2^1^1", "103^Table value not found^HL70357"]
    assert filer.bundles == []


async def test_reused_control_id_with_other_content_is_refused() -> None:
    gateway, _, filer = make()
    await gateway.handle(ORIGINAL_MODE, "p")
    ack = await gateway.handle(ORIGINAL_MODE.replace(b"|3.9|", b"|4.9|"), "p")
    assert msa(ack)[1] == "AE" and err(ack)[3].startswith("205^")
    assert len(filer.bundles) == 1


async def test_inbox_down_means_ar_and_nothing_filed() -> None:
    gateway, inbox, filer = make()
    inbox.fail_store = True
    ack = await gateway.handle(ORIGINAL_MODE, "p")
    assert msa(ack)[1] == "AR" and err(ack)[3].startswith("207^")
    assert filer.bundles == [] and inbox.entries == {}
    enhanced = await gateway.handle(IG_ORU, "p")
    assert msa(enhanced)[1] == "CE"


async def test_fhir_service_refusal_is_ae_and_failure_is_ar_then_retransmission_is_processed() -> None:
    gateway, inbox, filer = make()
    filer.error = Unprocessable("Observation.status: code not in value set")
    ack = await gateway.handle(ORIGINAL_MODE, "p")
    assert msa(ack)[1] == "AE" and "refused" in err(ack)[8]
    gateway, inbox, filer = make()
    filer.error = ConnectionError("database restarting")
    ack = await gateway.handle(ORIGINAL_MODE, "p")
    assert msa(ack)[1] == "AR" and err(ack)[3].startswith("207^")
    [failed] = inbox.entries.values()
    assert failed.status == "failed"
    filer.error = None
    ack = await gateway.handle(ORIGINAL_MODE, "p")  # the sender resends after AR
    assert msa(ack)[1] == "AA" and len(filer.bundles) == 1
    first, second = inbox.entries.values()
    assert (first.status, second.status) == ("duplicate", "processed")
    assert await gateway.recover() == 0  # nothing left unfinished


async def test_crash_between_inbox_commit_and_fhir_commit_is_reprocessed_once() -> None:
    gateway, inbox, filer = make()
    # the process died right after the inbox commit: the entry exists, nothing was filed, no ACK went out
    await inbox.store(InboundMessage(ORIGINAL_MODE, "LabApp^9.8.7.6.5^ISO", "LabFac^8.7.6.4^ISO",
                                     "20251014154001-425", datetime(2024, 1, 2, tzinfo=UTC), "p", "ORU^R01"))
    assert await gateway.recover() == 1
    assert len(filer.bundles) == 1
    assert await gateway.recover() == 0
    assert len(filer.bundles) == 1
    ack = await gateway.handle(ORIGINAL_MODE, "p")  # the sender never got an ACK and resends
    assert msa(ack)[1] == "AA" and len(filer.bundles) == 1


async def test_an_outcome_that_cannot_be_recorded_rolls_the_filing_back() -> None:
    gateway, inbox, filer = make()
    inbox.fail_record = True  # the inbox fails inside the filing transaction: nothing commits
    ack = await gateway.handle(ORIGINAL_MODE, "p")
    assert msa(ack)[1] == "AR" and filer.bundles == []
    inbox.fail_record = False
    [entry] = inbox.entries.values()
    assert entry.status == "received"
    assert await gateway.recover() == 1
    assert len(filer.bundles) == 1
    assert inbox.entries[entry.id].status == "processed"
    assert inbox.entries[entry.id].outcome.filed == [  # type: ignore[union-attr]
        f"{e['resource']['resourceType']}/x/_history/1" for e in filer.bundles[0]["entry"]]


async def test_an_entry_filed_meanwhile_is_not_filed_again() -> None:
    gateway, inbox, filer = make()
    await gateway.handle(ORIGINAL_MODE, "p")
    [entry] = inbox.entries.values()
    # another process (or a retry) filed it; this one still holds a stale copy and tries
    outcome = await gateway.process(parse_message(ORIGINAL_MODE), entry.id, NOW)
    assert outcome == inbox.entries[entry.id].outcome and len(filer.bundles) == 1
    replayed = await gateway.process(parse_message(ORIGINAL_MODE), entry.id, NOW, refile=True)  # an operator's replay
    assert replayed.status == "processed" and len(filer.bundles) == 2


async def test_enhanced_mode_commit_ack_and_application_ack() -> None:
    gateway, _, _ = make()
    delivery = await gateway.deliver(IG_ORU, "p")  # MSH-15 AL, MSH-16 AL
    assert msa(delivery.ack)[1] == "CA"
    assert delivery.application_ack is not None and msa(delivery.application_ack)[1] == "AA"
    delivery = await gateway.deliver(sample("19_v2tofhir"), "p")  # MSH-16 NE
    assert msa(delivery.ack)[1] == "CA" and delivery.application_ack is None
    bad = await gateway.deliver(IG_ORU.replace(b"20251014154001-425", b"X2").replace(b"OBX|2|NM|", b"OBX|2|FN|"), "p")
    assert msa(bad.ack)[1] == "AE"  # a rejection is answered at once on the connection


async def test_batch_gets_a_batch_acknowledgment() -> None:
    gateway, inbox, filer = make()
    deliveries, batch = await gateway.receive(sample("04_python-hl7_file"), "p")
    assert batch is not None and len(deliveries) == 3
    lines = batch.decode().rstrip("\r").split("\r")
    assert lines[0].startswith("FHS|") and lines[1].startswith("BHS|") and lines[-2:] == ["BTS|3", "FTS|1"]
    assert [line.split("|")[1] for line in lines if line.startswith("MSA")] == ["CA", "CA", "CA"]
    assert [d.outcome.status for d in deliveries] == ["processed", "processed", "duplicate"]
    assert len(filer.bundles) == 2 and len(inbox.entries) == 3


async def test_unexpected_failures_never_escape() -> None:
    gateway, _, _ = make()

    async def broken_find(**_: object) -> None:
        raise RuntimeError("bug")

    gateway.inbox.find_original = broken_find  # type: ignore[method-assign]
    ack = await gateway.handle(ORIGINAL_MODE, "p")
    assert msa(ack)[1] == "AR" and msa(ack)[2] == "20251014154001-425"


async def test_oversize_reply_addresses_the_sender() -> None:
    gateway, _, _ = make()
    ack = gateway.oversize_reply(ORIGINAL_MODE[:4096])
    assert msa(ack)[:3] == ["MSA", "AR", "20251014154001-425"] and err(ack)[3].startswith("207^")


async def test_concurrent_messages_from_one_sender_are_all_filed() -> None:
    gateway, _, filer = make()
    messages = [ORIGINAL_MODE.replace(b"20251014154001-425", b"C%03d" % i) for i in range(20)]
    acks = await asyncio.gather(*(gateway.handle(m, "p") for m in messages))
    assert [msa(a)[1] for a in acks] == ["AA"] * 20 and len(filer.bundles) == 20


async def test_end_to_end_over_mllp() -> None:
    gateway, inbox, filer = make()
    server = MLLPServer(gateway.handle, port=0, oversize_reply=gateway.oversize_reply, max_frame_bytes=100_000)
    async with server, await MLLPClient.connect("127.0.0.1", server.port) as client:
        assert msa(await client.send(ORIGINAL_MODE))[1] == "AA"
        assert msa(await client.send(IG_ORU.replace(b"20251014154001-425", b"E2")))[1] == "CA"
        too_big = ORIGINAL_MODE.replace(b"20251014154001-425", b"BIG") + b"NTE|1||" + b"x" * 200_000 + b"\r"
        assert msa(await client.send(too_big))[:3] == ["MSA", "AR", "BIG"]
    assert len(filer.bundles) == 2 and len(inbox.entries) == 2


@pytest.mark.parametrize("listing", ["processed", None])
async def test_operator_listing(listing: str | None) -> None:
    gateway, inbox, _ = make()
    await gateway.handle(ORIGINAL_MODE, "p")
    await gateway.handle(b"garbage", "p")
    entries = await inbox.list(status=listing)  # type: ignore[arg-type]
    assert entries and (listing is None or all(e.status == listing for e in entries))
    shown = await inbox.show(entries[0].id)
    assert shown is not None


async def test_a_message_slower_than_its_bound_is_logged(monkeypatch, caplog) -> None:
    import hl7_gateway.gateway as gateway_module

    gateway, _, filer = make()
    file = type(filer).__call__

    async def slow(self, bundle, settle):
        await asyncio.sleep(0.05)
        return await file(self, bundle, settle)

    monkeypatch.setattr(type(filer), "__call__", slow)
    with caplog.at_level("WARNING", logger="hl7_gateway.gateway"):
        await gateway.handle(ORIGINAL_MODE, "10.0.0.1:5000")  # within the default bound: nothing
        assert not [r for r in caplog.records if "took" in r.getMessage()]
        monkeypatch.setattr(gateway_module, "SLOW_SECONDS", 0.01)
        second = ORIGINAL_MODE.replace(b"20251014154001-425", b"SLOW-1")
        ack = await gateway.handle(second, "10.0.0.1:5000")
    assert msa(ack)[1] == "AA"
    [slow_record] = [r for r in caplog.records if "took" in r.getMessage()]
    assert "SLOW-1" in slow_record.getMessage() and "ORU" in slow_record.getMessage()


async def test_a_message_held_past_its_bound_is_logged_while_it_is_held(monkeypatch, caplog) -> None:
    """The warning comes while the message is held, with where its delivery waits, not only at the ACK."""
    import hl7_gateway.gateway as gateway_module

    gateway, _, filer = make()
    file = type(filer).__call__
    release = asyncio.Event()

    async def held_by_the_filing(self, bundle, settle):
        await release.wait()
        return await file(self, bundle, settle)

    monkeypatch.setattr(type(filer), "__call__", held_by_the_filing)
    monkeypatch.setattr(gateway_module, "SLOW_SECONDS", 0.01)
    held = ORIGINAL_MODE.replace(b"20251014154001-425", b"HELD-1")
    with caplog.at_level("WARNING", logger="hl7_gateway.gateway"):
        delivery = asyncio.create_task(gateway.handle(held, "10.0.0.1:5000"))
        for _ in range(500):
            if [r for r in caplog.records if "still unacknowledged" in r.getMessage()]:
                break
            await asyncio.sleep(0.01)
        assert not delivery.done()  # said while the message is still held
        [warning] = [r.getMessage() for r in caplog.records if "still unacknowledged" in r.getMessage()]
        release.set()
        ack = await delivery
    assert "HELD-1" in warning and "ORU" in warning
    chain = warning.split("waiting in ", 1)[1].split(" > ")
    assert chain[0].startswith("Gateway.handle:") and "Gateway.process:" in warning
    assert chain[-3].startswith("test_a_message_held_past_its_bound_is_logged_while_it_is_held.<locals>.held_by_the_filing:")
    assert chain[-2].startswith("Event.wait:") and ":" not in chain[-1]  # the future it waits for
    assert msa(ack)[1] == "AA"
    assert [r for r in caplog.records if "took" in r.getMessage()]  # and once more when the ACK goes
