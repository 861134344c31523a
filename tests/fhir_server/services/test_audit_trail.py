"""The audit trail: appends commit with their write or in group commits, are sealed at rest, and become
searchable AuditEvent resources exactly once."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from sqlalchemy import func, select, text

from fhir_server.auth.audit import rest_event
from fhir_server.context import DEV_PRINCIPAL, Principal, RequestContext
from fhir_server.db.audit_tables import audit_log
from fhir_server.db.tables import jobs, resource_versions, resources
from fhir_server.jobs import Worker
from fhir_server.services import SearchRequest
from fhir_server.services.audit import AUDIT_MATERIALIZE, AuditTrail
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
    """The outcome descriptions of the committed log rows, opened with the keyring."""
    async with runtime.store.single() as db:
        rows = await db.fetch("SELECT event_id, body FROM audit_log")
    return {orjson.loads(runtime.keyring.open(bytes(body), f"audit_log/{event_id}".encode())).get("outcomeDesc", "")
            for event_id, body in rows}


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
    assert await count(runtime, audit_log) == 120
    assert trail.flushed == 120
    assert 1 <= trail.flushes <= 4  # callers waiting together share a commit


async def test_close_commits_what_is_waiting(runtime):
    trail = trail_of(runtime)
    await trail.start()
    pending = [asyncio.create_task(trail.record([read_event("p1", f"late {n}")])) for n in range(10)]
    await asyncio.sleep(0)
    await trail.close()
    await asyncio.gather(*pending)
    assert await count(runtime, audit_log) == 10
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


async def test_bodies_are_sealed_and_bound_to_their_event(runtime):
    trail = trail_of(runtime)
    async with runtime.store.write() as tx:
        await trail.record_in(tx, [read_event("patient-secret-77", "one"), read_event("p2", "two")])
    async with runtime.store.single() as db:
        rows = await db.fetch("SELECT event_id, body FROM audit_log ORDER BY pk")
    (first_id, first), (second_id, _) = rows
    assert b"patient-secret-77" not in bytes(first) and b"AuditEvent" not in bytes(first)
    assert b"patient-secret-77" in runtime.keyring.open(bytes(first), f"audit_log/{first_id}".encode())
    with pytest.raises(DecryptionFailed):
        runtime.keyring.open(bytes(first), f"audit_log/{second_id}".encode())


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
        await trail.record_in(tx, [read_event("z", f"backlog {n}") for n in range(8)])
        await runtime.jobs.enqueue(tx, AUDIT_MATERIALIZE, {}, dedupe_key=AUDIT_MATERIALIZE)
    worker = Worker(runtime.jobs, {AUDIT_MATERIALIZE: trail.materialize})
    # three full batches queue their successor at once; the last, short one after the interval
    assert await worker.run_until_idle() == 3
    assert await count(runtime, audit_log) == 0
    assert len(await audit_events_about(runtime, "z")) == 8


async def test_concurrent_materializers_split_the_log(runtime):
    trail = trail_of(runtime, batch_size=10)
    async with runtime.store.write() as tx:
        await trail.record_in(tx, [read_event("w", f"concurrent {n}") for n in range(95)])
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
