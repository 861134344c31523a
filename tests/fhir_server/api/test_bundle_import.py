"""`$import` over HTTP: a background job with the Bulk Data status pattern, reading only allowed files."""

from __future__ import annotations

import orjson
import pytest

from fhir_server.importer.operation import KIND as IMPORT_KIND
from fhir_server.jobs import Worker
from tests.fhir_server.api.samples import observation, patient

FHIR_JSON = {"content-type": "application/fhir+json"}


def runtime_of(client):
    return client._transport.app.state.runtime


def parameters(*inputs):
    return {"resourceType": "Parameters", "parameter": [
        {"name": "inputFormat", "valueCode": "application/fhir+ndjson"},
        *({"name": "input", "part": [*([{"name": "type", "valueCode": t}] if t else []),
                                     {"name": "url", "valueUrl": url}]} for t, url in inputs)]}


def write(settings, name, items):
    root = settings.data_dir / "import"
    root.mkdir(exist_ok=True)
    path = root / name
    path.write_bytes(b"".join((i if isinstance(i, bytes) else orjson.dumps(i)) + b"\n" for i in items))
    return path


async def run_worker(client) -> int:
    """Run the import's jobs (not those its writes queue for others, e.g. the AI pipeline's)."""
    runtime = runtime_of(client)
    return await Worker(runtime.jobs, {IMPORT_KIND: runtime.job_handlers[IMPORT_KIND]}).run_until_idle()


async def test_import_runs_as_a_job_with_the_bulk_data_status_pattern(client, settings):
    path = write(settings, "patients.ndjson", [patient(id=f"i{n}") for n in range(12)] + [b"{oops"])
    write(settings, "obs.ndjson", [observation(subject={"reference": "Patient/i1"}), patient(id="wrong-type")])
    runtime_of(client).services.bundles.imports.batch_size = 5
    kick_off = await client.post("/fhir/$import", json=parameters(("Patient", f"file://{path}"),
                                                                  ("Observation", "obs.ndjson")),
                                 headers={**FHIR_JSON, "prefer": "respond-async"})
    assert kick_off.status_code == 202, kick_off.text
    status_url = kick_off.headers["content-location"]
    assert status_url.startswith("http://testserver/fhir/$import-status/")
    waiting = await client.get(status_url)
    assert waiting.status_code == 202 and waiting.headers["x-progress"].startswith("0%")
    assert await run_worker(client) == 4  # three batches of the first file, one of the second
    done = await client.get(status_url)
    assert done.status_code == 200, done.text
    result = done.json()
    assert result["created"] == 13 and result["rejected"] == 2
    assert [(e["inputUrl"], e["line"]) for e in result["error"]] == [(f"file://{path}", 13), ("obs.ndjson", 2)]
    assert result["error"][0]["outcome"]["resourceType"] == "OperationOutcome"
    assert done.headers["x-progress"].startswith("100%")
    assert (await client.get("/fhir/Patient/i11")).status_code == 200
    assert (await client.get("/fhir/Patient/wrong-type")).status_code == 404


async def test_cancel(client, settings):
    path = write(settings, "p.ndjson", [patient() for _ in range(3)])
    kick_off = await client.post("/fhir/$import", json=parameters((None, str(path))), headers=FHIR_JSON)
    status_url = kick_off.headers["content-location"]
    cancelled = await client.delete(status_url)
    assert cancelled.status_code == 202
    await run_worker(client)
    assert (await client.get(status_url)).status_code == 404
    history = (await client.get("/fhir/_history")).json()
    assert history.get("entry", []) == []
    assert (await client.get("/fhir/$import-status/999999")).status_code == 404
    assert (await client.delete("/fhir/$import-status/999999")).status_code == 404


@pytest.mark.parametrize(("url", "status"), [
    ("/etc/passwd", 403),
    ("file:///etc/hostname", 403),
    ("../../outside.ndjson", 403),
    ("https://example.org/data.ndjson", 403),
    ("file://otherhost/data.ndjson", 403),
    ("missing.ndjson", 400),
])
async def test_only_files_under_the_import_directory_are_read(client, settings, url, status):
    (settings.data_dir / "import").mkdir(exist_ok=True)
    (settings.data_dir / "outside.ndjson").write_bytes(orjson.dumps(patient()) + b"\n")
    response = await client.post("/fhir/$import", json=parameters((None, url)), headers=FHIR_JSON)
    assert response.status_code == status, response.text
    assert response.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize("body", [
    patient(),
    {"resourceType": "Parameters"},
    {"resourceType": "Parameters", "parameter": [{"name": "input", "part": [{"name": "type", "valueCode": "Patient"}]}]},
    {"resourceType": "Parameters", "parameter": [{"name": "inputFormat", "valueCode": "text/csv"}]},
])
async def test_malformed_requests_are_400(client, body):
    response = await client.post("/fhir/$import", json=body, headers=FHIR_JSON)
    assert response.status_code == 400, response.text
