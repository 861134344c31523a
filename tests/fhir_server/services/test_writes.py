"""Writes are atomic and concurrent writers never lose each other's work."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from fhir_server.context import DEV_PRINCIPAL, RequestContext
from fhir_server.db.tables import outbox, resource_versions, resources, search_token
from fhir_server.errors import PreconditionFailed
from fhir_server.services.resources import ResourceService
from tests.fhir_server.api.samples import patient

CTX = RequestContext(principal=DEV_PRINCIPAL, base_url="http://test/fhir")
MRN = "http://hospital.example.org/mrn"


async def count(runtime, table, **where):
    stmt = select(func.count()).select_from(table)
    for column, value in where.items():
        stmt = stmt.where(table.c[column] == value)
    async with runtime.engine.connect() as conn:
        return (await conn.execute(stmt)).scalar_one()


async def test_a_write_commits_resource_version_index_and_change_together(runtime):
    result = await runtime.services.resources.create(CTX, "Patient", patient())
    pk_count = await count(runtime, resources, res_id=result.version.res_id)
    assert pk_count == 1
    assert await count(runtime, resource_versions, res_id=result.version.res_id) == 1
    assert await count(runtime, outbox, res_id=result.version.res_id, action="create") == 1
    assert await count(runtime, search_token, param="identifier") == 1


async def test_a_failing_index_write_leaves_nothing_behind(runtime):
    def broken_indexer(resource):
        # the resource row is written first; this NOT NULL violation comes after it
        return {"string": [{"param": "name", "value_norm": None, "value_exact": None}]}

    service = runtime.services.resources
    failing = ResourceService(store=service.store, validator=service.validator, indexer=broken_indexer,
                              matcher=service.matcher)
    with pytest.raises(Exception):  # noqa: B017 - whatever the driver raises, nothing may be committed
        await failing.create(CTX, "Patient", patient())
    assert await count(runtime, resources) == 0
    assert await count(runtime, resource_versions) == 0
    assert await count(runtime, outbox) == 0


async def test_concurrent_updates_with_if_match_exactly_one_wins(runtime):
    service = runtime.services.resources
    created = await service.create(CTX, "Patient", patient())
    pid = created.version.res_id
    attempts = [service.update(CTX, "Patient", pid, patient(id=pid, gender=g), if_match=1)
                for g in ("male", "female", "other", "unknown")]
    results = await asyncio.gather(*attempts, return_exceptions=True)
    winners = [r for r in results if not isinstance(r, Exception)]
    losers = [r for r in results if isinstance(r, PreconditionFailed)]
    assert len(winners) == 1 and len(losers) == 3
    assert (await service.read(CTX, "Patient", pid)).version_id == 2


async def test_concurrent_updates_without_if_match_lose_nothing(runtime):
    service = runtime.services.resources
    created = await service.create(CTX, "Patient", patient())
    pid = created.version.res_id
    await asyncio.gather(*[service.update(CTX, "Patient", pid, patient(id=pid, birthDate=f"19{n:02d}-01-01"))
                           for n in range(10)])
    assert (await service.read(CTX, "Patient", pid)).version_id == 11
    assert await count(runtime, resource_versions, res_id=pid) == 11


async def test_concurrent_update_as_create_of_one_id(runtime):
    service = runtime.services.resources
    results = await asyncio.gather(*[service.update(CTX, "Patient", "same-id", patient(id="same-id"))
                                     for _ in range(4)])
    assert sum(r.created for r in results) == 1
    assert sorted(r.version.version_id for r in results) == [1, 2, 3, 4]


async def test_concurrent_conditional_creates_make_one_resource(runtime):
    service = runtime.services.resources
    criteria = [("identifier", f"{MRN}|RACE-1")]
    body = patient(identifier=[{"system": MRN, "value": "RACE-1"}])
    results = await asyncio.gather(*[service.create(CTX, "Patient", body, if_none_exist=criteria) for _ in range(6)])
    assert sum(r.created for r in results) == 1
    assert len({r.version.res_id for r in results}) == 1
    assert await count(runtime, resources) == 1


async def test_conditional_delete_refuses_too_many_matches(runtime):
    service = runtime.services.resources
    for _ in range(3):
        await service.create(CTX, "Patient", patient(identifier=[{"system": MRN, "value": "MANY"}]))
    limited = ResourceService(store=service.store, validator=service.validator, indexer=service.indexer,
                              matcher=service.matcher, max_conditional_deletes=2)
    with pytest.raises(PreconditionFailed):
        await limited.conditional_delete(CTX, "Patient", [("identifier", f"{MRN}|MANY")])
    assert await count(runtime, resources, deleted=False) == 3


async def test_subscribers_run_inside_the_write_transaction(runtime):
    service = runtime.services.resources
    seen = []

    async def remember(tx, change):
        seen.append((change.action, change.res_type, change.version_id, change.resource is not None))
        await runtime.jobs.enqueue(tx, "test-kind", {"id": change.res_id})

    async def refuse(tx, change):
        if change.action == "delete":
            raise RuntimeError("subscriber refused")

    service.subscribe(remember)
    service.subscribe(refuse)
    created = await service.create(CTX, "Patient", patient())
    pid = created.version.res_id
    await service.update(CTX, "Patient", pid, patient(id=pid, active=False))
    with pytest.raises(RuntimeError):
        await service.delete(CTX, "Patient", pid)
    assert seen == [("create", "Patient", 1, True), ("update", "Patient", 2, True), ("delete", "Patient", 3, False)]
    assert (await service.read(CTX, "Patient", pid)).version_id == 2  # the refused delete left nothing
    from fhir_server.db.tables import jobs
    assert await count(runtime, jobs, kind="test-kind") == 2
