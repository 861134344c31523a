"""`ResourceService.write_many_in`: the one write path single interactions, Bundles and imports share."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from fhir_server.context import DEV_PRINCIPAL, RequestContext
from fhir_server.db.tables import outbox, resource_versions, resources
from fhir_server.errors import PreconditionFailed
from fhir_server.services.bundle_entries import read_entries
from fhir_server.services.write_ops import BatchWriteError, Create, Patch, Put, Remove
from resources import fhir_json
from tests.fhir_server.api.samples import observation, patient

CTX = RequestContext(principal=DEV_PRINCIPAL, base_url="http://test/fhir")


async def count(runtime, table) -> int:
    async with runtime.engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(table))).scalar_one()


async def test_many_writes_of_every_kind_in_one_transaction(runtime):
    service = runtime.services.resources
    await service.update(CTX, "Patient", "u1", patient(id="u1"))
    await service.update(CTX, "Patient", "d1", patient(id="d1"))
    await service.update(CTX, "Patient", "x1", patient(id="x1"))
    changes = []

    async def remember(tx, change):
        changes.append((change.action, change.res_id, change.version_id))

    service.subscribe(remember)
    ops = [
        Create(service.prepare("Observation", fhir_json.loads(fhir_json.dumps(observation()))), "o1"),
        Put(service.prepare_update("Patient", "u1", patient(id="u1", active=False)), "u1", if_match=1),
        Put(service.prepare_update("Patient", "n1", patient(id="n1")), "n1"),
        Patch("Patient", "x1", [{"op": "replace", "path": "/gender", "value": "male"}], "application/json-patch+json"),
        Remove("Patient", "d1"),
        Remove("Patient", "never"),
    ]
    results = await service.run_in_transaction(lambda tx: service.write_many_in(tx, CTX, ops))
    assert [(r.created, r.changed, r.version.version_id if r.version else None) for r in results] == [
        (True, True, 1), (False, True, 2), (True, True, 1), (False, True, 2), (False, True, 2), (False, False, None)]
    assert changes == [("create", "o1", 1), ("update", "u1", 2), ("create", "n1", 1), ("update", "x1", 2),
                       ("delete", "d1", 2)]
    assert await count(runtime, outbox) == 3 + 5
    assert (await service.read(CTX, "Patient", "x1")).body.count(b'"gender":"male"') == 1


async def test_a_subscriber_that_takes_a_writes_changes_at_once_gets_them_in_one_call(runtime):
    service = runtime.services.resources
    calls = []

    class Batched:
        async def on_change(self, tx, change):
            calls.append([change.res_id])

        async def on_changes(self, tx, changes):
            calls.append([change.res_id for change in changes])

    service.subscribe(Batched().on_change)
    ops = [Create(service.prepare("Patient", patient()), "b1"), Create(service.prepare("Patient", patient()), "b2")]
    await service.run_in_transaction(lambda tx: service.write_many_in(tx, CTX, ops))
    await service.update(CTX, "Patient", "b3", patient(id="b3"))
    assert calls == [["b1", "b2"], ["b3"]]


async def test_a_refused_operation_names_its_position_and_nothing_is_written(runtime):
    service = runtime.services.resources
    await service.update(CTX, "Patient", "m1", patient(id="m1"))
    ops = [Create(service.prepare("Patient", patient()), "fresh"),
           Put(service.prepare_update("Patient", "m1", patient(id="m1")), "m1", if_match=5)]
    with pytest.raises(BatchWriteError) as caught:
        await service.run_in_transaction(lambda tx: service.write_many_in(tx, CTX, ops))
    assert caught.value.position == 1 and isinstance(caught.value.error, PreconditionFailed)
    assert await count(runtime, resources) == 1 and await count(runtime, resource_versions) == 1
    twice = [Create(service.prepare("Patient", patient()), "same"), Put(service.prepare("Patient", patient()), "same")]
    with pytest.raises(BatchWriteError) as caught:
        await service.run_in_transaction(lambda tx: service.write_many_in(tx, CTX, twice))
    assert caught.value.position == 1 and "written twice" in caught.value.error.diagnostics


PRACTITIONER = {"resourceType": "Practitioner", "identifier": [{"system": "urn:lab", "value": "1234"}]}


def entry(resource: dict, method: str, url: str, **request: str) -> dict:
    return {"resource": resource, "request": {"method": method, "url": url, **request}}


def transaction(*entries: dict) -> list:
    """A transaction Bundle's entries, parsed as the server parses a request's."""
    bundle = fhir_json.loads(fhir_json.dumps({"resourceType": "Bundle", "type": "transaction", "entry": list(entries)}))
    return read_entries(bundle, base_url=CTX.base_url, max_entries=100)[1]


async def test_a_transaction_reads_what_its_updates_replace_with_what_its_conditional_creates_found(
        runtime, monkeypatch):
    """The rows a transaction's updates replace are read (and locked) in the statement that reads the
    resources its conditional creates found; an update of an id the server has just made reads nothing."""
    service, bundles = runtime.services.resources, runtime.services.bundles
    await service.create(CTX, "Practitioner", PRACTITIONER)
    await service.update(CTX, "Patient", "p1", patient(id="p1"))
    first = observation(identifier=[{"system": "urn:obs", "value": "o-1"}], subject={"reference": "Patient/p1"})
    await bundles.transaction(CTX, transaction(entry(first, "PUT", "Observation?identifier=urn:obs|o-1")))
    sent: list[str] = []
    if not runtime.store.is_sqlite:
        from fhir_server.storage.driver import AsyncpgDriver
        fetch = AsyncpgDriver.fetch

        async def recorded(self, sql, *args):
            sent.append(sql)
            return await fetch(self, sql, *args)

        monkeypatch.setattr(AsyncpgDriver, "fetch", recorded)
    corrected = observation(identifier=[{"system": "urn:obs", "value": "o-1"}], subject={"reference": "Patient/p1"},
                            status="corrected")
    second = observation(identifier=[{"system": "urn:obs", "value": "o-2"}], subject={"reference": "Patient/p1"})
    outcomes = await bundles.transaction(CTX, transaction(
        entry(PRACTITIONER, "POST", "Practitioner", ifNoneExist="identifier=urn:lab|1234"),
        entry(patient(id="p1", active=False), "PUT", "Patient/p1", ifMatch='W/"1"'),
        entry(corrected, "PUT", "Observation?identifier=urn:obs|o-1"),
        entry(second, "PUT", "Observation?identifier=urn:obs|o-2")))
    assert [(outcomes[n].status, outcomes[n].version.res_type, outcomes[n].version.version_id) for n in range(4)] == [
        (200, "Practitioner", 1), (200, "Patient", 2), (200, "Observation", 2), (201, "Observation", 1)]
    assert b'"status":"corrected"' in (await service.read(CTX, "Observation", outcomes[2].version.res_id)).body
    assert b'"active":false' in (await service.read(CTX, "Patient", "p1")).body
    if not runtime.store.is_sqlite:
        reads = [sql for sql in sent if sql.startswith(("SELECT r.pk, r.res_type", "SELECT pk, res_type", "WITH locked"))]
        assert len(reads) == 1 and reads[0].startswith("WITH locked"), reads
