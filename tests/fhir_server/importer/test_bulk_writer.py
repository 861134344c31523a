"""Import batches on PostgreSQL go in by COPY for new resources and through the service layer for the
rest (`bulk_writer`); on SQLite all through the service layer. Either way the stored rows are those of
single creates and updates: versions, history, index rows, audit, change events."""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest
from sqlalchemy import func, select

from fhir_server.context import Principal, RequestContext
from fhir_server.db.tables import SEARCH_INDEX_TABLES, outbox, resource_versions, resources
from fhir_server.importer import Importer, find_sources
from fhir_server.importer.bulk_writer import BulkWriter
from fhir_server.storage.audit_log import AuditLogStore
from fhir_server.storage.bulk_load import BulkLoad
from fhir_server.storage.positions import Positions
from resources import fhir_json
from tests.fhir_server.api.samples import observation, patient
from tests.fhir_server.importer.test_loader import ndjson

# audited, like the `fhir-server import` principal (the dev principal's writes are not audited)
SYSTEM = Principal(subject="import-test", role="system", scopes=frozenset({"system/*.write"}), unrestricted=True)
CTX = RequestContext(principal=SYSTEM, base_url="http://test/fhir")


def importer(runtime, **options) -> Importer:
    return Importer(runtime.services.resources, Positions(runtime.store), CTX, **options)


async def scalar(runtime, stmt):
    async with runtime.engine.connect() as conn:
        return (await conn.execute(stmt)).scalar_one()


async def audit_count(runtime) -> int:
    """The AuditEvents waiting in the audit log (a row holds a group of them)."""
    return await AuditLogStore(runtime.store).pending()


async def index_rows(runtime, res_type: str, res_id: str) -> dict[str, list[tuple]]:
    """Every index row of the current version, without the columns that name the row or the resource."""
    found = {}
    async with runtime.engine.connect() as conn:
        pk = (await conn.execute(select(resources.c.pk).where(resources.c.res_type == res_type,
                                                               resources.c.res_id == res_id))).scalar_one()
        for kind, table in SEARCH_INDEX_TABLES.items():
            columns = [c for c in table.columns if c.name not in ("pk", "resource_pk")]
            rows = (await conn.execute(select(*columns).where(table.c.resource_pk == pk))).all()
            found[kind] = sorted((tuple(row) for row in rows if row.param not in ("_id", "_lastUpdated")), key=repr)
    return found


async def family(runtime, name: str) -> list[str]:
    async with runtime.store.write() as tx:
        return sorted(await runtime.services.resources.match_in(tx, "Patient", [("family:exact", name)]))


async def test_new_and_existing_ids_get_the_right_versions_history_and_index_rows(runtime, tmp_path):
    service = runtime.services.resources
    await service.update(CTX, "Patient", "old1", patient(id="old1", name=[{"family": "Before"}]))
    await service.update(CTX, "Patient", "gone1", patient(id="gone1", name=[{"family": "Erased"}]))
    await service.delete(CTX, "Patient", "gone1")
    audited, changes = await audit_count(runtime), await scalar(runtime, select(func.count()).select_from(outbox))
    source = ndjson(tmp_path / "mixed.ndjson", [
        patient(id="old1", name=[{"family": "After"}]),      # exists: version 2
        patient(id="new1", name=[{"family": "Fresh"}]),      # new: version 1 ...
        patient(id="gone1", name=[{"family": "Back"}]),      # deleted: version 3, a create again
        observation(subject={"reference": "Patient/new1"}),  # no id: a new one
        patient(id="new1", name=[{"family": "Again"}]),      # ... and version 2 in the same batch
    ])
    report = await importer(runtime, batch_size=100).run(find_sources([source]))
    assert (report.created, report.updated, report.rejected) == (3, 2, 0)
    versions = {res_id: (await service.read(CTX, "Patient", res_id)).version_id for res_id in ("old1", "new1", "gone1")}
    assert versions == {"old1": 2, "new1": 2, "gone1": 3}
    for res_id, expected in versions.items():
        stmt = select(func.count()).select_from(resource_versions).where(resource_versions.c.res_id == res_id)
        assert await scalar(runtime, stmt) == expected
    first = await service.vread(CTX, "Patient", "new1", "1")
    assert orjson.loads(first.body)["name"][0]["family"] == "Fresh"
    # the index holds the current versions only
    assert await family(runtime, "Before") == [] and await family(runtime, "After") == ["old1"]
    assert await family(runtime, "Fresh") == [] and await family(runtime, "Again") == ["new1"]
    assert await family(runtime, "Back") == ["gone1"]
    async with runtime.store.write() as tx:
        assert len(await service.match_in(tx, "Observation", [("subject", "Patient/new1")])) == 1
    # one AuditEvent and one change event per version written
    assert await audit_count(runtime) - audited == 5
    assert await scalar(runtime, select(func.count()).select_from(outbox)) - changes == 5


async def test_an_imported_resource_is_stored_as_a_single_create_stores_it(runtime, tmp_path):
    service = runtime.services.resources
    content = fhir_json.loads(orjson.dumps(observation(subject={"reference": "Patient/p1"}, note=[{"text": "Bulk ünïcode"}])))
    content["valueQuantity"] = {"value": Decimal("1.50"), "unit": "mmol/L", "system": "http://unitsofmeasure.org",
                                "code": "mmol/L"}
    await service.update(CTX, "Observation", "single", {**content, "id": "single"})
    line = fhir_json.dumps({**content, "id": "loaded"})
    report = await importer(runtime).run(find_sources([ndjson(tmp_path / "o.ndjson", [line])]))
    assert report.created == 1
    assert await index_rows(runtime, "Observation", "loaded") == await index_rows(runtime, "Observation", "single")
    loaded, single = (await service.read(CTX, "Observation", "loaded"), await service.read(CTX, "Observation", "single"))
    strip = ("id", "meta")
    assert {k: v for k, v in fhir_json.loads(loaded.body).items() if k not in strip} == \
        {k: v for k, v in fhir_json.loads(single.body).items() if k not in strip}
    assert b'"value":1.50' in loaded.body
    history = await service.vread(CTX, "Observation", "loaded", "1")
    assert history.body == loaded.body
    async with runtime.store.single() as db:
        methods = {row[0]: row[1] for row in await db.fetch(
            "SELECT res_id, method FROM resource_versions WHERE res_type = 'Observation'")}
        stored = await db.fetchval("SELECT body FROM resources WHERE res_id = 'loaded'")
    assert methods == {"loaded": "PUT", "single": "PUT"}
    assert b"Bulk" not in bytes(stored)  # sealed at rest like any other body


async def test_a_rejected_line_does_not_lose_the_rest_of_its_batch(runtime, tmp_path):
    source = ndjson(tmp_path / "batch.ndjson", [
        *(patient(id=f"b{n}", name=[{"family": f"Row{n}"}]) for n in range(4)),
        patient(id="b-bad", gender="sometimes"),
        b"{truncated",
        *(patient(id=f"b{n}", name=[{"family": f"Row{n}"}]) for n in range(4, 8)),
    ])
    rejects: list[int] = []
    report = await importer(runtime, batch_size=10).run(find_sources([source]),
                                                        on_reject=lambda f, n, o: rejects.append(n))
    assert (report.created, report.rejected) == (8, 2) and rejects == [5, 6]
    for n in range(8):
        assert await family(runtime, f"Row{n}") == [f"b{n}"]
    assert await scalar(runtime, select(func.count()).select_from(resources)) == 8


async def test_a_resource_created_meanwhile_makes_the_batch_retry_as_an_update(runtime, tmp_path, backend,
                                                                                 monkeypatch):
    if backend == "sqlite":
        pytest.skip("SQLite writes every import batch through the service layer")
    service = runtime.services.resources
    await service.update(CTX, "Patient", "race1", patient(id="race1", name=[{"family": "First"}]))
    real_existing = BulkLoad.existing
    calls = 0

    async def blind_once(self, tx, keys):
        nonlocal calls
        calls += 1
        return set() if calls == 1 else await real_existing(self, tx, keys)

    monkeypatch.setattr(BulkLoad, "existing", blind_once)
    source = ndjson(tmp_path / "race.ndjson", [patient(id="race1", name=[{"family": "Second"}]), patient(id="race2")])
    report = await importer(runtime).run(find_sources([source]))
    assert calls == 2 and (report.created, report.updated) == (1, 1)
    assert (await service.read(CTX, "Patient", "race1")).version_id == 2
    assert await family(runtime, "Second") == ["race1"]


async def test_bulk_writer_is_postgresql_only(runtime, backend):
    if backend == "postgresql":
        assert isinstance(BulkWriter(runtime.services.resources).load, BulkLoad)
    else:
        with pytest.raises(ValueError):
            BulkWriter(runtime.services.resources)


async def test_the_analytics_projection_follows_an_imported_batch(runtime, tmp_path):
    from tests.fhir_server.bulk.samples import condition, encounter
    from tests.fhir_server.bulk.samples import patient as bulk_patient

    service = runtime.services.resources
    # an Encounter already stored whose patient dies and whose condition is recoded in the batch
    await service.update(CTX, "Encounter", "e0", encounter("e0", "pa", start="2024-01-01T00:00:00Z",
                                                           end="2024-01-03T00:00:00Z", condition="ca"))
    source = ndjson(tmp_path / "stays.ndjson", [
        encounter("e1", "pa", start="2024-03-01T00:00:00Z", end="2024-03-03T00:00:00Z", condition="ca"),
        condition("ca", "pa", "91302008", "Sepsis"),
        bulk_patient("pa", "F", "G", "M", "0", "1", "x@y", "1 St", "C", "82001", "1950-01-01", "2024-03-02T00:00:00Z"),
    ])
    report = await importer(runtime).run(find_sources([source]))
    assert report.created == 3
    async with runtime.store.single() as db:
        rows = {row[0]: tuple(row[1:]) for row in await db.fetch(
            "SELECT res_id, dx_code, death_low IS NOT NULL FROM analytics_encounters")}
    assert rows == {"e0": ("91302008", True), "e1": ("91302008", True)}
