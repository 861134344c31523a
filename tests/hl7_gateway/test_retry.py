"""Failed messages (the FHIR service or the database failed: AR) are tried again with backoff, a
bounded number of times; rejected ones (AE) never are."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from fhir_server.errors import Unprocessable
from hl7_gateway.retry import RetryPolicy, retry_failed
from tests.hl7_gateway.test_gateway import NOW, ORIGINAL_MODE, make, msa

POLICY = RetryPolicy(max_attempts=3, first_delay=10, max_delay=25)


def test_the_delay_doubles_up_to_its_ceiling() -> None:
    assert [POLICY.delay(n).total_seconds() for n in (1, 2, 3, 4)] == [10, 20, 25, 25]


async def test_a_transient_failure_is_retried_after_its_delay_and_then_filed_once() -> None:
    gateway, inbox, filer = make()
    filer.error = ConnectionError("database restarting")
    assert msa(await gateway.handle(ORIGINAL_MODE, "p"))[1] == "AR"
    [entry] = inbox.entries.values()
    assert (entry.status, entry.attempts) == ("failed", 1)
    assert await retry_failed(gateway, POLICY, clock=lambda: NOW + timedelta(seconds=9)) == 0  # not due yet
    filer.error = None
    assert await retry_failed(gateway, POLICY, clock=lambda: NOW + timedelta(seconds=10)) == 1
    assert inbox.entries[entry.id].status == "processed" and len(filer.bundles) == 1
    assert await retry_failed(gateway, POLICY, clock=lambda: NOW + timedelta(days=1)) == 0


async def test_retries_stop_after_the_last_attempt() -> None:
    gateway, inbox, filer = make()
    filer.error = ConnectionError("database down")
    await gateway.handle(ORIGINAL_MODE, "p")
    [entry] = inbox.entries.values()
    later = NOW + timedelta(hours=1)
    inbox.now = later  # the failed attempts end an hour later: each one's delay counts from there
    assert await retry_failed(gateway, POLICY, clock=lambda: later) == 1  # attempt 2
    assert await retry_failed(gateway, POLICY, clock=lambda: later + timedelta(seconds=19)) == 0
    assert await retry_failed(gateway, POLICY, clock=lambda: later + timedelta(seconds=20)) == 1  # attempt 3
    filer.error = None
    assert await retry_failed(gateway, POLICY, clock=lambda: later + timedelta(days=1)) == 0  # given up
    assert (inbox.entries[entry.id].status, inbox.entries[entry.id].attempts) == ("failed", 3)
    assert filer.bundles == []


async def test_content_errors_are_never_retried() -> None:
    gateway, inbox, filer = make()
    filer.error = Unprocessable("Observation.status: code not in value set")
    assert msa(await gateway.handle(ORIGINAL_MODE, "p"))[1] == "AE"
    bad = ORIGINAL_MODE.replace(b"20251014154001-425", b"X2").replace(b"OBX|2|NM|", b"OBX|2|FN|")
    assert msa(await gateway.handle(bad, "p"))[1] == "AE"
    filer.error = None
    assert await retry_failed(gateway, POLICY, clock=lambda: NOW + timedelta(days=1)) == 0
    assert [e.status for e in inbox.entries.values()] == ["rejected", "rejected"] and filer.bundles == []


async def test_a_retransmission_that_finished_the_message_first_wins() -> None:
    gateway, inbox, filer = make()
    filer.error = ConnectionError("database restarting")
    await gateway.handle(ORIGINAL_MODE, "p")
    filer.error = None
    assert msa(await gateway.handle(ORIGINAL_MODE, "p"))[1] == "AA"  # the lab resent after the AR
    assert await retry_failed(gateway, POLICY, clock=lambda: NOW + timedelta(days=1)) == 0
    assert [e.status for e in inbox.entries.values()] == ["duplicate", "processed"] and len(filer.bundles) == 1


async def test_a_failure_that_could_not_be_recorded_is_taken_up_once_due() -> None:
    gateway, inbox, filer = make()
    filer.error, inbox.fail_record = ConnectionError("database down"), True
    assert msa(await gateway.handle(ORIGINAL_MODE, "p"))[1] == "AR"
    [entry] = inbox.entries.values()
    assert entry.status == "received"  # not even the failure could be recorded
    filer.error, inbox.fail_record = None, False
    assert await retry_failed(gateway, POLICY, clock=lambda: NOW + timedelta(seconds=9)) == 0
    assert await retry_failed(gateway, POLICY, clock=lambda: NOW + timedelta(seconds=10)) == 1
    assert inbox.entries[entry.id].status == "processed" and len(filer.bundles) == 1


async def test_a_message_still_in_this_process_hands_is_not_taken() -> None:
    gateway, inbox, filer = make()
    release = asyncio.Event()
    filing = filer.__call__

    async def slow(bundle: object, settle: object) -> object:
        await release.wait()
        return await filing(bundle, settle)  # type: ignore[arg-type]

    gateway.file_bundle = slow
    delivery = asyncio.create_task(gateway.handle(ORIGINAL_MODE, "p"))
    await asyncio.sleep(0.05)
    assert await retry_failed(gateway, POLICY, clock=lambda: NOW + timedelta(days=1)) == 0
    release.set()
    assert msa(await delivery)[1] == "AA" and len(filer.bundles) == 1
