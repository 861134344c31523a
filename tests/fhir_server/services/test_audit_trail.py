"""The audit trail: appends commit with their write or in group commits, are sealed at rest, and become
searchable AuditEvent resources exactly once."""

from __future__ import annotations

import asyncio
import zlib

import orjson
import pytest
from sqlalchemy import func, select, text

from fhir_server.auth.audit import noted, rest_event, storable, stored_event
from fhir_server.context import DEV_PRINCIPAL, Principal, RequestContext
from fhir_server.db.audit_tables import audit_log
from fhir_server.db.tables import jobs, resource_versions, resources
from fhir_server.jobs import Worker
from fhir_server.services import SearchRequest
from fhir_server.services.audit import AUDIT_MATERIALIZE, AuditTrail
from fhir_server.storage.audit_log import AuditLogStore
from fhir_server.storage.crypto import DecryptionFailed

CTX = RequestContext(principal=DEV_PRINCIPAL, base_url="http://test/fhir")
DOCTOR = Principal(subject="dr-1", role="doctor", scopes=frozenset({"user/*.rs"}), client_id="ehr",
                   fhir_user="Practitioner/dr-1")


def read_event(patient: str, marker: str = "") -> dict:
    return rest_event(DOCTOR, interaction="read", res_type="Observation", res_id=f"obs-{marker or patient}",
                      patients=[patient], network_address="10.0.0.7", outcome_desc=marker or None)


def trail_of(runtime, **options) -> AuditTrail:
    return AuditTrail(store=runtime.store, resources=runtime.services.resources, jobs=runtime.jobs, **options)


async def count(runtime, table, *where) -> int:
    async with runtime.engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(table).where(*where))).scalar_one()


async def logged_markers(runtime) -> set[str]:
    """The outcome descriptions of the committed events in the log, opened with the keyring."""
    return {event.get("outcomeDesc", "") for event in await AuditLogStore(runtime.store).waiting()}


async def audit_events_about(runtime, patient: str) -> list[dict]:
    bundle = orjson.loads(await runtime.services.search.search(
        CTX, SearchRequest("AuditEvent", [("patient", f"Patient/{patient}"), ("_count", "100")])))
    return [entry["resource"] for entry in bundle.get("entry", [])]


async def test_the_runtime_commits_read_events_in_one_statement_without_waiting_for_the_wal(runtime):
    trail = runtime.audit
    if runtime.store.is_sqlite:
        assert trail.commit_pool is None  # SQLite: a write transaction of the store
    else:
        async with trail.commit_pool.acquire() as raw:
            assert await raw.fetchval("SHOW synchronous_commit") == "off"
        async with runtime.store.pg_pool.acquire() as raw:  # the store's own sessions keep the default
            assert await raw.fetchval("SHOW synchronous_commit") == "on"
    await trail.record([read_event("p9", "grouped")])
    assert "grouped" in await logged_markers(runtime)


async def test_record_in_commits_and_rolls_back_with_its_transaction(runtime):
    trail = trail_of(runtime)
    with pytest.raises(RuntimeError, match="write failed"):
        async with runtime.store.write() as tx:
            await trail.record_in(tx, [read_event("p1", "rolled back")])
            raise RuntimeError("write failed")
    assert await count(runtime, audit_log) == 0
    async with runtime.store.write() as tx:
        await trail.record_in(tx, [read_event("p1", "kept"), read_event("p1", "kept too")])
    assert await logged_markers(runtime) == {"kept", "kept too"}


async def test_record_returns_once_committed_and_groups_concurrent_callers(runtime):
    trail = trail_of(runtime)
    await trail.start()
    try:
        async def reader(n: int) -> None:
            await trail.record([read_event(f"p{n}", f"read {n}")])
            # durable before the caller goes on: another connection sees it
            assert f"read {n}" in await logged_markers(runtime)

        await asyncio.gather(*(reader(n) for n in range(120)))
    finally:
        await trail.close()
    assert await AuditLogStore(runtime.store).pending() == 120
    assert 1 <= await count(runtime, audit_log) <= 4  # a row per group
    assert await count(runtime, audit_log) == trail.flushes
    assert trail.flushed == 120
    assert 1 <= trail.flushes <= 4  # callers waiting together share a commit


async def test_close_commits_what_is_waiting(runtime):
    trail = trail_of(runtime)
    await trail.start()
    pending = [asyncio.create_task(trail.record([read_event("p1", f"late {n}")])) for n in range(10)]
    await asyncio.sleep(0)
    await trail.close()
    await asyncio.gather(*pending)
    assert await AuditLogStore(runtime.store).pending() == 10
    with pytest.raises(RuntimeError, match="not running"):
        await trail.record([read_event("p1")])


async def test_a_failed_group_commit_fails_its_callers(runtime):
    trail = trail_of(runtime)
    await trail.start()
    async with runtime.engine.begin() as conn:
        await conn.execute(text("ALTER TABLE audit_log RENAME TO audit_log_away"))
    try:
        results = await asyncio.gather(*(trail.record([read_event("p1", str(n))]) for n in range(5)),
                                       return_exceptions=True)
        assert all(isinstance(result, Exception) for result in results)
    finally:
        async with runtime.engine.begin() as conn:
            await conn.execute(text("ALTER TABLE audit_log_away RENAME TO audit_log"))
    # the flusher goes on with the next group
    await trail.record([read_event("p1", "after")])
    await trail.close()
    assert await logged_markers(runtime) == {"after"}


async def test_bodies_are_sealed_and_bound_to_their_row(runtime):
    trail = trail_of(runtime)
    async with runtime.store.write() as tx:
        await trail.record_in(tx, [read_event("patient-secret-77", "one"), read_event("p2", "two")])
    async with runtime.store.write() as tx:
        await trail.record_in(tx, [read_event("p3", "three")])
    async with runtime.store.single() as db:
        rows = await db.fetch("SELECT event_id, body FROM audit_log ORDER BY pk")
    (first_id, first), (second_id, _) = rows  # one row per append
    assert b"patient-secret-77" not in bytes(first) and b"AuditEvent" not in bytes(first)
    plain = runtime.keyring.open(bytes(first), f"audit_log/{first_id}".encode())
    assert b"patient-secret-77" in zlib.decompress(plain[2:])
    with pytest.raises(DecryptionFailed):
        runtime.keyring.open(bytes(first), f"audit_log/{second_id}".encode())


async def test_rows_of_one_event_from_earlier_releases_are_materialized(runtime):
    """Before groups, a row held one event's JSON and its id was the AuditEvent's."""
    event_id = "0b0e6c1e-5d0c-4a39-9a43-43f5d3c1a001"
    body = runtime.keyring.seal(orjson.dumps(read_event("old", "one event per row")), f"audit_log/{event_id}".encode())
    async with runtime.store.write() as tx:
        await tx.db.execute("INSERT INTO audit_log (event_id, recorded, body) VALUES ($1, $2, $3)", event_id, 1, body)
    assert await trail_of(runtime).catch_up() == 1
    [event] = await audit_events_about(runtime, "old")
    assert event["id"] == event_id and event["outcomeDesc"] == "one event per row"


async def test_materialize_makes_searchable_audit_events_exactly_once(runtime):
    trail = trail_of(runtime)
    await trail.start()
    try:
        await asyncio.gather(*(trail.record([read_event("x", f"read {n}")]) for n in range(5)))
        async with runtime.store.write() as tx:
            await trail.record_in(tx, [read_event("y", "write")])
    finally:
        await trail.close()
    worker = Worker(runtime.jobs, {AUDIT_MATERIALIZE: trail.materialize})
    assert await worker.run_until_idle() >= 1
    assert await count(runtime, audit_log) == 0
    about_x = await audit_events_about(runtime, "x")
    assert sorted(event["outcomeDesc"] for event in about_x) == [f"read {n}" for n in range(5)]
    assert {event["agent"][0]["who"]["reference"] for event in about_x} == {"Practitioner/dr-1"}
    assert [event["outcomeDesc"] for event in await audit_events_about(runtime, "y")] == ["write"]

    # run again: nothing is written twice
    assert await trail.catch_up() == 0
    assert await count(runtime, resources, resources.c.res_type == "AuditEvent") == 6
    assert await count(runtime, resource_versions, resource_versions.c.res_type == "AuditEvent") == 6
    # the job requeued itself (to pick up later writes' events), at most one of it waiting
    assert await count(runtime, jobs, jobs.c.kind == AUDIT_MATERIALIZE, jobs.c.status == "queued") == 1


async def test_materialize_works_through_a_backlog_in_batches(runtime):
    trail = trail_of(runtime, batch_size=3)
    async with runtime.store.write() as tx:
        for n in range(8):  # a row each: a batch takes whole rows
            await trail.record_in(tx, [read_event("z", f"backlog {n}")])
        await runtime.jobs.enqueue(tx, AUDIT_MATERIALIZE, {}, dedupe_key=AUDIT_MATERIALIZE)
    worker = Worker(runtime.jobs, {AUDIT_MATERIALIZE: trail.materialize})
    # three full batches queue their successor at once; the last, short one after the interval
    assert await worker.run_until_idle() == 3
    assert await count(runtime, audit_log) == 0
    assert len(await audit_events_about(runtime, "z")) == 8


async def test_concurrent_materializers_split_the_log(runtime):
    trail = trail_of(runtime, batch_size=10)
    async with runtime.store.write() as tx:
        for n in range(0, 95, 5):
            await trail.record_in(tx, [read_event("w", f"concurrent {m}") for m in range(n, n + 5)])
    totals = await asyncio.gather(trail.catch_up(), trail.catch_up(), trail.catch_up())
    assert sum(totals) == 95
    assert await count(runtime, resources, resources.c.res_type == "AuditEvent") == 95
    assert await count(runtime, audit_log) == 0


async def test_an_event_that_is_not_valid_r4_is_kept_all_the_same(runtime, caplog):
    trail = trail_of(runtime)
    broken = {**read_event("v", "broken"), "action": "Z"}  # outside the required binding (C R U D E)
    async with runtime.store.write() as tx:
        await trail.record_in(tx, [broken])
    assert await trail.catch_up() == 1
    assert [event["action"] for event in await audit_events_about(runtime, "v")] == ["Z"]
    assert "is not valid R4 and is stored as recorded" in caplog.text


def test_a_noted_read_is_stored_compactly_and_becomes_the_same_audit_event():
    note = noted(DOCTOR, "read", res_type="Observation", res_id="obs-1", version_id=3, patients=("p1",),
                 network_address="10.0.0.7")
    stored = orjson.loads(orjson.dumps(storable(note)))
    assert len(orjson.dumps(stored)) < 300 < len(orjson.dumps(note.event()))
    event = stored_event(stored)
    expected = rest_event(DOCTOR, interaction="read", res_type="Observation", res_id="obs-1", version_id=3,
                          patients=["p1"], network_address="10.0.0.7", recorded=event["recorded"])
    assert event == expected
    assert event["recorded"].endswith("Z") and event["recorded"][:4].isdigit()
    assert stored_event(storable(expected)) is expected  # a built event is stored as it is


async def test_a_cancelled_caller_does_not_fail_the_others_of_its_group(runtime):
    trail = trail_of(runtime, linger_seconds=0.05)
    await trail.start()
    try:
        callers = [asyncio.create_task(trail.record([read_event("c", f"caller {n}")])) for n in range(5)]
        await asyncio.sleep(0.01)
        callers[0].cancel()
        results = await asyncio.gather(*callers, return_exceptions=True)
    finally:
        await trail.close()
    assert isinstance(results[0], asyncio.CancelledError) and results[1:] == [None] * 4
    # the cancelled caller's events are written all the same
    assert await logged_markers(runtime) == {f"caller {n}" for n in range(5)}
