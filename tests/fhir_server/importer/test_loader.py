"""The bulk loader on SQLite and PostgreSQL: NDJSON, directories and Bundle files, many resources per
transaction, rejected records reported, resumable after an interruption."""

from __future__ import annotations

import gc
import json
from pathlib import Path

import orjson
import pytest
from sqlalchemy import func, select

from fhir_server.context import DEV_PRINCIPAL, RequestContext
from fhir_server.db.tables import resource_versions, resources
from fhir_server.importer import Importer, find_sources
from fhir_server.importer.staging import Stager
from fhir_server.importer.workers import staging_pool
from fhir_server.long_lived import YOUNG_THRESHOLD
from fhir_server.storage.positions import Positions
from tests.fhir_server.api.samples import observation, patient

CTX = RequestContext(principal=DEV_PRINCIPAL, base_url="http://test/fhir")
MRN = "http://hospital.example.org/mrn"


class Interrupted(Exception):
    """Stands for the process being stopped between two batches."""


def ndjson(path: Path, items: list) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join((item if isinstance(item, bytes) else orjson.dumps(item)) + b"\n" for item in items))
    return path


def importer(runtime, **options) -> Importer:
    return Importer(runtime.services.resources, Positions(runtime.store), CTX, **options)


async def count(runtime, table=resources, **where) -> int:
    stmt = select(func.count()).select_from(table)
    for column, value in where.items():
        stmt = stmt.where(table.c[column] == value)
    async with runtime.engine.connect() as conn:
        return (await conn.execute(stmt)).scalar_one()


async def test_ndjson_directories_and_bundles(runtime, tmp_path):
    data = tmp_path / "export"
    ndjson(data / "Patient.ndjson", [patient(id=f"p{n}", identifier=[{"system": MRN, "value": f"N{n}"}])
                                     for n in range(25)])
    ndjson(data / "nested" / "Observation.ndjson",
           [observation(subject={"reference": f"Patient/p{n}"}) for n in range(30)])
    urn = "urn:uuid:7d0a5b8e-8c2b-4f57-9a51-3f9b0d1b6c01"
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": urn, "resource": patient(), "request": {"method": "POST", "url": "Patient"}},
        {"resource": observation(subject={"reference": urn}), "request": {"method": "POST", "url": "Observation"}},
    ]}
    (tmp_path / "bundle.json").write_text(json.dumps(bundle, indent=2))
    report = await importer(runtime, batch_size=7).run(find_sources([data, tmp_path / "bundle.json"]))
    assert (report.files, report.created, report.updated, report.rejected) == (3, 57, 0, 0)
    service = runtime.services.resources
    # ids are kept, resources are validated, stamped, indexed and readable like any other
    read = await service.read(CTX, "Patient", "p3")
    assert read.version_id == 1 and orjson.loads(read.body)["identifier"][0]["value"] == "N3"
    async with runtime.store.write() as tx:
        assert await service.match_in(tx, "Patient", [("identifier", f"{MRN}|N3")]) == ["p3"]
        assert len(await service.match_in(tx, "Observation", [("subject", "Patient/p4")])) == 1
        # the Bundle's urn became the id, and the reference points to it
        uuid = urn.removeprefix("urn:uuid:")
        assert len(await service.match_in(tx, "Observation", [("subject", f"Patient/{uuid}")])) == 1
    assert await count(runtime, resource_versions) == 57


async def test_rejected_records_are_reported_and_the_load_goes_on(runtime, tmp_path):
    source = ndjson(tmp_path / "mixed.ndjson", [
        patient(id="ok1"), b"{not json", b"", patient(gender="sometimes"), {"resourceType": "Nonsense"},
        [1, 2], patient(id="bad id!"), observation(), b"   ",
    ])
    rejects: list[tuple[str, int, dict]] = []
    report = await importer(runtime, batch_size=3).run(
        find_sources([source]), on_reject=lambda f, n, o: rejects.append((f, n, o)))
    assert report.created == 2 and report.rejected == 5
    assert [n for _, n, _ in rejects] == [2, 4, 5, 6, 7]
    assert all(f == str(source) and o["resourceType"] == "OperationOutcome" for f, _, o in rejects)
    assert rejects[1][2]["issue"][0]["expression"] == ["Patient.gender"]
    assert await count(runtime) == 2


async def test_an_interrupted_load_resumes_after_its_last_committed_batch(runtime, tmp_path):
    source = ndjson(tmp_path / "obs.ndjson", [observation(note=[{"text": f"v{n}"}]) for n in range(50)])
    batches = 0

    def interrupt(read: int, written: int) -> None:
        nonlocal batches
        if written:
            batches += 1
            if batches == 3:
                raise Interrupted

    with pytest.raises(Interrupted):
        await importer(runtime, batch_size=8).run(find_sources([source]), on_progress=interrupt)
    # three batches of 8 committed, and on PostgreSQL maybe the one written beside the third
    loaded = await count(runtime)
    assert loaded in (24, 32)
    report = await importer(runtime, batch_size=8).run(find_sources([source]))
    assert report.created == 50 - loaded and await count(runtime) == 50  # no line loaded twice, none missed
    again = await importer(runtime, batch_size=8).run(find_sources([source]))
    assert again.skipped == [str(source)] and again.written == 0
    restarted = await importer(runtime, batch_size=8).run(find_sources([source]), restart=True)
    assert restarted.created == 50 and await count(runtime) == 100


async def test_a_failed_batch_rolls_back_the_one_written_beside_it(runtime, tmp_path, monkeypatch):
    source = ndjson(tmp_path / "obs.ndjson", [observation(note=[{"text": f"v{n}"}]) for n in range(40)])
    loader = importer(runtime, batch_size=8)
    checkpoint, calls = loader._checkpoint, 0

    async def failing_second(tx, *args):
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("the database went away")
        await checkpoint(tx, *args)

    monkeypatch.setattr(loader, "_checkpoint", failing_second)
    with pytest.raises(RuntimeError):
        await loader.run(find_sources([source]))
    assert await count(runtime) == 8  # the first batch; the third, written beside the second, rolled back
    report = await importer(runtime, batch_size=8).run(find_sources([source]))
    assert report.created == 32 and await count(runtime) == 40


async def test_batches_written_together_give_what_one_after_the_other_gives(runtime, tmp_path):
    from tests.fhir_server.bulk.samples import condition, encounter
    from tests.fhir_server.bulk.samples import patient as bulk_patient

    def died(pid: str) -> dict:
        return bulk_patient(pid, "F", "G", "M", "0", "1", "x@y", "1 St", "C", "82001", "1950-01-01",
                            "2024-03-02T00:00:00Z")

    stay = {"start": "2024-03-01T00:00:00Z", "end": "2024-03-03T00:00:00Z"}
    source = ndjson(tmp_path / "stays.ndjson", [
        # one record per batch: each reads what the batch before it wrote
        died("pa"), encounter("ea", "pa", **stay, condition="ca"), condition("ca", "pa", "91302008", "Sepsis"),
        encounter("eb", "pb", **stay), died("pb"),
        patient(id="t1", active=True), patient(id="t1", active=False), patient(id="t1", gender="male"),
    ])
    report = await importer(runtime, batch_size=1).run(find_sources([source]))
    assert (report.created, report.updated) == (6, 2)
    async with runtime.store.single() as db:
        rows = {row[0]: tuple(row[1:]) for row in await db.fetch(
            "SELECT res_id, dx_code, death_low IS NOT NULL FROM analytics_encounters")}
    assert rows == {"ea": ("91302008", True), "eb": (None, True)}
    current = await runtime.services.resources.read(CTX, "Patient", "t1")
    assert current.version_id == 3 and orjson.loads(current.body)["gender"] == "male"


async def test_a_changed_file_is_loaded_from_its_start(runtime, tmp_path):
    source = ndjson(tmp_path / "p.ndjson", [patient(id=f"c{n}") for n in range(4)])
    await importer(runtime).run(find_sources([source]))
    ndjson(source, [patient(id=f"d{n}") for n in range(3)])
    report = await importer(runtime).run(find_sources([source]))
    assert report.created == 3 and await count(runtime) == 7


async def test_the_same_id_twice_in_a_batch_gives_two_versions(runtime, tmp_path):
    source = ndjson(tmp_path / "twice.ndjson", [patient(id="t1", active=True), patient(id="t2"),
                                                patient(id="t1", active=False)])
    report = await importer(runtime, batch_size=100).run(find_sources([source]))
    assert (report.created, report.updated) == (2, 1)
    current = await runtime.services.resources.read(CTX, "Patient", "t1")
    assert current.version_id == 2 and orjson.loads(current.body)["active"] is False
    again = await importer(runtime, batch_size=100).run(find_sources([source]), restart=True)
    assert (again.created, again.updated) == (0, 3)


async def test_staging_in_worker_processes_gives_the_same_result(runtime, tmp_path):
    source = ndjson(tmp_path / "many.ndjson", [patient(id=f"w{n}", identifier=[{"system": MRN, "value": f"W{n}"}])
                                               for n in range(40)] + [b"{broken"])
    resources_service = runtime.services.resources
    pool = staging_pool(2, Stager(resources_service.validator, resources_service.indexer))
    try:
        # the workers collect their young generation as seldom as the process they were forked from
        assert pool is not None and pool.submit(gc.get_threshold).result()[0] == YOUNG_THRESHOLD
        rejects = []
        report = await importer(runtime, batch_size=6, executor=pool, workers=2).run(
            find_sources([source]), on_reject=lambda f, n, o: rejects.append(n))
    finally:
        pool.shutdown()
    assert report.created == 40 and rejects == [41]
    async with runtime.store.write() as tx:
        assert await resources_service.match_in(tx, "Patient", [("identifier", f"{MRN}|W17")]) == ["w17"]


async def test_a_single_resource_json_file(runtime, tmp_path):
    (tmp_path / "one.json").write_bytes(orjson.dumps(patient(id="single")))
    report = await importer(runtime).run(find_sources([tmp_path / "one.json"]))
    assert report.created == 1
    assert (await runtime.services.resources.read(CTX, "Patient", "single")).version_id == 1
