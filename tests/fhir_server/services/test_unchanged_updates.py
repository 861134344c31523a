"""An update asked to keep unchanged content (`Put.keep_unchanged`, what the HL7 gateway asks) makes no
new version when it says exactly what the current version says: it answers with the current version
and writes no version, index or change row. Any difference (an element, a tag, the order of the
client's elements) makes a new version; a client's PUT always makes one."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from fhir_server.context import DEV_PRINCIPAL, RequestContext
from fhir_server.db.tables import outbox, resource_versions
from fhir_server.errors import PreconditionFailed
from fhir_server.services.bundle_entries import read_entries
from fhir_server.services.bundle_transaction import TransactionRun
from fhir_server.services.write_ops import BatchWriteError, Put
from tests.fhir_server.api.samples import patient

CTX = RequestContext(principal=DEV_PRINCIPAL, base_url="http://test/fhir")
MRN = "http://hospital.example.org/mrn"


async def count(runtime, table, **where):
    stmt = select(func.count()).select_from(table)
    for column, value in where.items():
        stmt = stmt.where(table.c[column] == value)
    async with runtime.engine.connect() as conn:
        return (await conn.execute(stmt)).scalar_one()


async def keep(runtime, pid, resource, *, if_match=None):
    """PUT as the gateway does it: asking that unchanged content keep its version."""
    service = runtime.services.resources
    prepared = service.prepare_update("Patient", pid, resource)
    [result] = await service.run_in_transaction(lambda tx: service.write_many_in(
        tx, CTX, [Put(prepared, pid, if_match, keep_unchanged=True)]))
    return result


async def test_an_update_with_the_same_content_keeps_the_version(runtime):
    service = runtime.services.resources
    created = await service.create(CTX, "Patient", patient())
    pid = created.version.res_id
    again = await keep(runtime, pid, patient(id=pid))
    assert again.version.version_id == 1 and not again.created and not again.changed
    assert again.version.body == created.version.body
    assert again.version.last_updated == created.version.last_updated
    assert await count(runtime, resource_versions, res_id=pid) == 1
    assert await count(runtime, outbox, res_id=pid) == 1
    # the client's meta.versionId / lastUpdated are the server's to set: they change nothing either
    stamped = dict(patient(id=pid), meta={"versionId": "7", "lastUpdated": "2001-01-01T00:00:00Z"})
    assert (await keep(runtime, pid, stamped)).version.version_id == 1


async def test_a_clients_update_with_the_same_content_is_a_new_version(runtime):
    service = runtime.services.resources
    pid = (await service.create(CTX, "Patient", patient())).version.res_id
    assert (await service.update(CTX, "Patient", pid, patient(id=pid))).version.version_id == 2


async def test_any_difference_makes_a_new_version(runtime):
    service = runtime.services.resources
    pid = (await service.create(CTX, "Patient", patient())).version.res_id
    changed = await keep(runtime, pid, patient(id=pid, gender="male"))
    assert changed.version.version_id == 2 and changed.changed
    tagged = dict(patient(id=pid, gender="male"), meta={"tag": [{"system": "http://t", "code": "x"}]})
    assert (await keep(runtime, pid, tagged)).version.version_id == 3
    reordered = dict(reversed(list(tagged.items())))
    assert (await keep(runtime, pid, reordered)).version.version_id == 4
    assert await count(runtime, resource_versions, res_id=pid) == 4


async def test_if_match_still_applies_to_an_unchanged_update(runtime):
    service = runtime.services.resources
    pid = (await service.create(CTX, "Patient", patient())).version.res_id
    await service.update(CTX, "Patient", pid, patient(id=pid, gender="male"))
    with pytest.raises(BatchWriteError) as refused:
        await keep(runtime, pid, patient(id=pid, gender="male"), if_match=1)
    assert isinstance(refused.value.error, PreconditionFailed)
    assert (await keep(runtime, pid, patient(id=pid, gender="male"), if_match=2)).version.version_id == 2


async def test_a_transaction_run_asked_to_keep_unchanged_content_answers_with_the_current_version(runtime):
    service = runtime.services.resources
    pid = (await service.create(CTX, "Patient", patient())).version.res_id
    body = {key: value for key, value in patient().items() if key != "id"}
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": body, "request": {"method": "PUT", "url": f"Patient?identifier={MRN}|MRN-1001"}}]}
    _, entries = read_entries(bundle, base_url=CTX.base_url, max_entries=10)
    prepared = {0: service.prepare("Patient", body)}
    run = TransactionRun(service, CTX, entries, prepared, search=None, bind_full_urls=True, keep_unchanged=True)
    outcome = (await service.run_in_transaction(run))[0]
    assert outcome.status == 200 and outcome.version.res_id == pid and outcome.version.version_id == 1
    assert await count(runtime, resource_versions, res_id=pid) == 1
