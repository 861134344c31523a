"""Writes that queue the pipeline's jobs, in the write's own transaction, whichever door they use."""

from __future__ import annotations

import orjson
import pytest

from fhir_server.context import DEV_PRINCIPAL, RequestContext
from resources import fhir_json
from tests.ai_pipeline.records import (
    FHIR_JSON,
    creatinine,
    document_reference,
    jobs,
    lab,
    patient,
    runtime_of,
)
from tests.ai_pipeline.report_samples import report_rows, text_pdf


async def test_a_rest_create_of_a_lab_observation_queues_an_assessment(client):
    await client.put("/fhir/Patient/p1", json=patient(), headers=FHIR_JSON)
    created = await client.post("/fhir/Observation", json=creatinine(), headers=FHIR_JSON)
    assert created.status_code == 201, created.text
    queued = await jobs(runtime_of(client))
    assert [(kind, status) for kind, status, _ in queued] == [("ai-pipeline.assess", "queued")]
    payload = orjson.loads(queued[0][2])
    assert payload["patient"] == "p1"
    assert payload["sources"] == [f"Observation/{created.json()['id']}/_history/1"]


async def test_a_rolled_back_write_queues_nothing(client):
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": creatinine(), "request": {"method": "POST", "url": "Observation"}},
        {"resource": {"resourceType": "Observation", "status": "bogus"}, "request": {"method": "POST", "url": "Observation"}},
    ]}
    failed = await client.post("/fhir", json=bundle, headers=FHIR_JSON)
    assert failed.status_code >= 400
    assert await jobs(runtime_of(client)) == []


async def test_the_job_is_part_of_the_writes_transaction(runtime):
    resources = runtime.services.resources
    ctx = RequestContext(principal=DEV_PRINCIPAL, base_url="http://testserver/fhir")
    prepared = resources.prepare("Observation", fhir_json.loads(orjson.dumps(creatinine())))
    with pytest.raises(RuntimeError):
        async with runtime.store.write() as tx:
            await resources.create_in(tx, ctx, prepared)
            assert await tx.db.fetchval("SELECT count(*) FROM jobs WHERE kind = 'ai-pipeline.assess'") == 1
            raise RuntimeError("the client went away before the commit")
    assert await jobs(runtime) == []
    async with runtime.store.write() as tx:
        await resources.create_in(tx, ctx, prepared)
    assert [kind for kind, _, _ in await jobs(runtime)] == ["ai-pipeline.assess"]


async def test_a_transaction_queues_one_assessment_per_patient(client):
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": creatinine(), "request": {"method": "POST", "url": "Observation"}},
        {"resource": lab("2823-3", "Potassium", "6.8", "mmol/L"), "request": {"method": "POST", "url": "Observation"}},
        {"resource": lab("718-7", "Haemoglobin", "95", "g/L", pid="p2"), "request": {"method": "POST", "url": "Observation"}},
    ]}
    done = await client.post("/fhir", json=bundle, headers=FHIR_JSON)
    assert done.status_code == 200, done.text
    created = [entry["response"]["location"].split("/_history/")[0] for entry in done.json()["entry"]]
    queued = sorted((orjson.loads(payload) for _, _, payload in await jobs(runtime_of(client))),
                    key=lambda payload: payload["patient"])
    # every result of the patient in the transaction is a source of its one assessment
    assert [(payload["patient"], payload["sources"]) for payload in queued] == [
        ("p1", [f"{created[0]}/_history/1", f"{created[1]}/_history/1"]), ("p2", [f"{created[2]}/_history/1"])]


async def test_results_for_a_patient_whose_assessment_waits_join_it(client):
    runtime = runtime_of(client)
    await client.put("/fhir/Patient/p1", json=patient(), headers=FHIR_JSON)
    first = await client.post("/fhir/Observation", json=creatinine(), headers=FHIR_JSON)
    second = await client.post("/fhir/Observation", json=lab("2823-3", "Potassium", "6.8", "mmol/L"), headers=FHIR_JSON)
    other = await client.post("/fhir/Observation", json=lab("718-7", "Haemoglobin", "95", "g/L", pid="p2"),
                              headers=FHIR_JSON)
    queued = [orjson.loads(payload) for _, _, payload in await jobs(runtime)]
    assert queued == [
        {"patient": "p1", "encounter": None, "sources": [f"Observation/{first.json()['id']}/_history/1",
                                                          f"Observation/{second.json()['id']}/_history/1"]},
        {"patient": "p2", "encounter": None, "sources": [f"Observation/{other.json()['id']}/_history/1"]},
    ]

    claimed = await runtime.jobs.claim("test-worker", ["ai-pipeline.assess"])  # p1's job starts
    assert claimed is not None and claimed.payload["patient"] == "p1"
    third = await client.post("/fhir/Observation", json=creatinine(), headers=FHIR_JSON)
    queued = [(status, orjson.loads(payload)) for _, status, payload in await jobs(runtime)]
    assert [(status, payload["patient"], len(payload["sources"])) for status, payload in queued] == [
        ("running", "p1", 2), ("queued", "p2", 1), ("queued", "p1", 1)]  # a result during the run queues the next
    assert queued[2][1]["sources"] == [f"Observation/{third.json()['id']}/_history/1"]


async def test_unrelated_writes_and_deletes_queue_nothing(client):
    await client.put("/fhir/Patient/p1", json=patient(), headers=FHIR_JSON)
    note = {"resourceType": "Observation", "status": "final", "code": {"text": "mood"},
            "subject": {"reference": "Patient/p1"}, "valueString": "cheerful"}
    created = await client.post("/fhir/Observation", json=note, headers=FHIR_JSON)
    await client.delete(f"/fhir/Observation/{created.json()['id']}")
    no_patient = creatinine()
    del no_patient["subject"]
    await client.post("/fhir/Observation", json=no_patient, headers=FHIR_JSON)
    assert await jobs(runtime_of(client)) == []


async def test_scanned_documents_queue_an_extraction(client):
    pdf = text_pdf([report_rows(3, count=4)])
    await client.put("/fhir/DocumentReference/d1", json=document_reference(pdf, "application/pdf"), headers=FHIR_JSON)
    letter = document_reference(b"Dear colleague", "text/plain", did="d2")
    await client.put("/fhir/DocumentReference/d2", json=letter, headers=FHIR_JSON)
    report = {"resourceType": "DiagnosticReport", "id": "r1", "status": "final", "code": {"text": "Renal panel"},
              "subject": {"reference": "Patient/p1"},
              "presentedForm": [document_reference(pdf, "application/pdf")["content"][0]["attachment"]]}
    await client.put("/fhir/DiagnosticReport/r1", json=report, headers=FHIR_JSON)
    queued = [(kind, orjson.loads(payload)) for kind, _, payload in await jobs(runtime_of(client))]
    assert queued == [
        ("ai-pipeline.extract", {"type": "DocumentReference", "id": "d1", "version": 1}),
        ("ai-pipeline.assess", {"patient": "p1", "encounter": None, "sources": ["DiagnosticReport/r1/_history/1"]}),
        ("ai-pipeline.extract", {"type": "DiagnosticReport", "id": "r1", "version": 1}),
    ]
