"""Bulk loads (`fhir-server import`, `$import`) queue none of the pipeline's jobs unless the setting
asks for it; the change event tells the pipeline which writes they are."""

from __future__ import annotations

import orjson
import pytest

from fhir_server.bootstrap import start_runtime
from fhir_server.context import DEV_PRINCIPAL, RequestContext
from fhir_server.importer import Importer, find_sources
from fhir_server.importer.operation import KIND as IMPORT_KIND
from fhir_server.jobs import Worker
from fhir_server.storage.positions import Positions
from tests.ai_pipeline.records import FHIR_JSON, creatinine, jobs, patient, runtime_of

CTX = RequestContext(principal=DEV_PRINCIPAL, base_url="http://test/fhir")


def ndjson(path, items):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(orjson.dumps(item) + b"\n" for item in items))
    return path


def lab_export(directory):
    ndjson(directory / "Patient.ndjson", [patient(f"p{n}") for n in range(3)])
    ndjson(directory / "Observation.ndjson", [creatinine(pid=f"p{n}") for n in range(3)])
    return find_sources([directory])


async def test_the_command_line_import_queues_no_assessments(runtime, tmp_path):
    report = await Importer(runtime.services.resources, Positions(runtime.store), CTX).run(lab_export(tmp_path))
    assert report.created == 6
    assert await jobs(runtime) == []


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_the_setting_makes_a_bulk_load_trigger_the_pipeline(settings, tmp_path):
    runtime = await start_runtime(settings.model_copy(update={"ai_pipeline_on_bulk_import": True}))
    try:
        await Importer(runtime.services.resources, Positions(runtime.store), CTX).run(lab_export(tmp_path))
        queued = await jobs(runtime)
        assert sorted(orjson.loads(payload)["patient"] for _, _, payload in queued) == ["p0", "p1", "p2"]
    finally:
        await runtime.close()


async def test_the_import_operation_queues_no_assessments_but_rest_writes_do(client, settings):
    root = settings.data_dir / "import"
    ndjson(root / "obs.ndjson", [creatinine()])
    await client.put("/fhir/Patient/p1", json=patient(), headers=FHIR_JSON)
    parameters = {"resourceType": "Parameters", "parameter": [
        {"name": "input", "part": [{"name": "url", "valueUrl": "obs.ndjson"}]}]}
    kick_off = await client.post("/fhir/$import", json=parameters, headers={**FHIR_JSON, "prefer": "respond-async"})
    assert kick_off.status_code == 202, kick_off.text
    runtime = runtime_of(client)
    assert await Worker(runtime.jobs, {IMPORT_KIND: runtime.job_handlers[IMPORT_KIND]}).run_until_idle() == 1
    assert await jobs(runtime) == []
    await client.post("/fhir/Observation", json=creatinine(), headers=FHIR_JSON)
    assert [kind for kind, _, _ in await jobs(runtime)] == ["ai-pipeline.assess"]
