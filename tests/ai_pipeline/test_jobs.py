"""The worker runs the pipeline's jobs: RiskAssessments and a Provenance, once, superseded in place."""

from __future__ import annotations

import asyncio
import threading

import orjson

from ai_pipeline.document import OcrSettings
from ai_pipeline.jobs import PipelineJobs
from ai_pipeline.pipeline import Pipeline
from ai_pipeline.triggers import EXTRACT
from fhir_server.jobs import Worker
from tests.ai_pipeline.records import (
    FHIR_JSON,
    creatinine,
    document_reference,
    jobs,
    patient,
    potassium,
    run_jobs,
    runtime_of,
    search,
)
from tests.ai_pipeline.report_samples import Row, encoded, letter_page, text_pdf


def rule_of(assessment):
    return assessment["method"]["coding"][0]["code"]


async def results(runtime):
    async with runtime.store.single() as db:
        rows = await db.fetch("SELECT kind, status, result FROM jobs ORDER BY pk")
    return [(kind, status, orjson.loads(result) if result else None) for kind, status, result in rows
            if kind.startswith("ai-pipeline.")]


async def test_the_worker_writes_risk_assessments_with_their_basis_and_a_provenance(client):
    await client.put("/fhir/Patient/p1", json=patient(), headers=FHIR_JSON)
    created = (await client.post("/fhir/Observation", json=creatinine(), headers=FHIR_JSON)).json()
    second = (await client.post("/fhir/Observation", json=potassium(), headers=FHIR_JSON)).json()
    assert await run_jobs(runtime_of(client)) == 1  # both results joined the one assessment waiting for p1

    assessments = await search(client, "RiskAssessment?subject=Patient/p1")
    by_rule = {rule_of(a): a for a in assessments}
    assert {"ckd-epi-2021-kdigo", "ukka-hyperkalaemia-2020"} <= set(by_rule)
    ckd = by_rule["ckd-epi-2021-kdigo"]
    assert ckd["status"] == "preliminary" and ckd["performer"]["reference"] == "Device/ai-pipeline"
    assert {"reference": f"Observation/{created['id']}"}.items() <= ckd["basis"][0].items()
    assert "clinician" in ckd["note"][0]["text"]
    assert ckd["meta"]["security"][0]["code"] == "AIAST"

    provenances = await search(client, "Provenance")
    targets = {t["reference"] for p in provenances for t in p["target"]}
    assert f"RiskAssessment/{ckd['id']}/_history/{ckd['meta']['versionId']}" in targets
    assert all(p["agent"][0]["who"]["reference"] == "Device/ai-pipeline" for p in provenances)
    device = (await client.get("/fhir/Device/ai-pipeline")).json()
    assert any(v["type"]["text"] == "spaCy" for v in device["version"])
    done = await results(runtime_of(client))
    assert [status for _, status, _ in done] == ["done"]
    assert "kfre-4-variable" in done[0][2]["not_evaluated"]
    sources = {e["what"]["reference"].split("/_history/")[0] for p in provenances for e in p.get("entity", [])}
    assert {f"Observation/{created['id']}", f"Observation/{second['id']}"} <= sources  # both asked for it


async def test_running_again_writes_nothing_new(client):
    runtime = runtime_of(client)
    await client.put("/fhir/Patient/p1", json=patient(), headers=FHIR_JSON)
    await client.post("/fhir/Observation", json=creatinine(), headers=FHIR_JSON)
    await run_jobs(runtime)
    before = await search(client, "RiskAssessment")
    provenances = await search(client, "Provenance")
    async with runtime.store.write() as tx:
        await runtime.jobs.enqueue(tx, "ai-pipeline.assess", {"patient": "p1", "source": None})
    assert await run_jobs(runtime) == 1
    assert await search(client, "RiskAssessment") == before
    assert len(await search(client, "Provenance")) == len(provenances)
    assert (await results(runtime))[-1][2]["written"] == []


async def test_a_newer_result_supersedes_the_earlier_assessment_keeping_history(client):
    runtime = runtime_of(client)
    await client.put("/fhir/Patient/p1", json=patient(), headers=FHIR_JSON)
    await client.post("/fhir/Observation", json=potassium("6.8"), headers=FHIR_JSON)
    await run_jobs(runtime)
    await client.post("/fhir/Observation", json=potassium("4.1", effectiveDateTime="2026-11-21T08:30:00+00:00"),
                      headers=FHIR_JSON)
    await run_jobs(runtime)
    potassium_rule = [a for a in await search(client, "RiskAssessment") if rule_of(a) == "ukka-hyperkalaemia-2020"]
    assert len(potassium_rule) == 1
    assert potassium_rule[0]["meta"]["versionId"] == "2"
    assert "4.1" in potassium_rule[0]["basis"][0]["display"]
    history = (await client.get(f"/fhir/RiskAssessment/{potassium_rule[0]['id']}/_history")).json()
    assert len(history["entry"]) == 2


async def test_a_clinicians_entered_in_error_is_kept_when_nothing_changed(client):
    runtime = runtime_of(client)
    await client.put("/fhir/Patient/p1", json=patient(), headers=FHIR_JSON)
    await client.post("/fhir/Observation", json=potassium(), headers=FHIR_JSON)
    await run_jobs(runtime)
    [assessment] = [a for a in await search(client, "RiskAssessment") if rule_of(a) == "ukka-hyperkalaemia-2020"]
    assessment["status"] = "entered-in-error"
    marked = await client.put(f"/fhir/RiskAssessment/{assessment['id']}", json=assessment, headers=FHIR_JSON)
    assert marked.status_code == 200
    async with runtime.store.write() as tx:
        await runtime.jobs.enqueue(tx, "ai-pipeline.assess", {"patient": "p1"})
    await run_jobs(runtime)
    current = (await client.get(f"/fhir/RiskAssessment/{assessment['id']}")).json()
    assert current["status"] == "entered-in-error" and current["meta"]["versionId"] == "2"


def rows():
    return [Row("Creatinine", "2.10", "H", "mg/dL", "0.60 - 1.20", "2160-0", "mg/dL"),
            Row("Potassium", "6.9", "HH", "mmol/L", "3.5 - 5.3", "2823-3", "mmol/L"),
            Row("Sodium", "139", "", "mmol/L", "133 - 146", "2951-2", "mmol/L")]


async def test_a_scanned_document_becomes_observations_and_assessments(client, ocr_tools):
    runtime = runtime_of(client)
    await client.put("/fhir/Patient/p1", json=patient(), headers=FHIR_JSON)
    pdf = text_pdf([rows()])
    await client.put("/fhir/DocumentReference/d1", json=document_reference(pdf, "application/pdf"), headers=FHIR_JSON)
    assert await run_jobs(runtime) == 1
    [(_, status, result)] = await results(runtime)
    assert status == "done" and result["status"] == "extracted", result
    observations = await search(client, "Observation?derived-from=DocumentReference/d1")
    values = {o["code"]["coding"][0]["code"]: o["valueQuantity"]["value"] for o in observations}
    assert values == {"2160-0": 2.1, "2823-3": 6.9, "2951-2": 139}
    assert all(o["status"] == "preliminary" for o in observations)
    assert {rule_of(a) for a in await search(client, "RiskAssessment")} >= {"ukka-hyperkalaemia-2020",
                                                                            "ckd-epi-2021-kdigo"}
    assert await jobs(runtime, "ai-pipeline.assess") == []  # the extracted values queue nothing more

    async with runtime.store.write() as tx:
        await runtime.jobs.enqueue(tx, EXTRACT, {"type": "DocumentReference", "id": "d1", "version": 1})
    await run_jobs(runtime)
    assert len(await search(client, "Observation")) == 3
    assert (await results(runtime))[-1][2]["written"] == []


async def test_bad_documents_end_as_a_job_result_with_the_reason(client, ocr_tools):
    runtime = runtime_of(client)
    await client.put("/fhir/Patient/p1", json=patient(), headers=FHIR_JSON)
    await client.put("/fhir/DocumentReference/d1", json=document_reference(b"\x89PNG\r\n\x1a\nnot really", "image/png"),
                     headers=FHIR_JSON)
    broken = document_reference(b"%PDF-1.7\n%%EOF\n", "application/pdf", did="d2")
    assert (await client.put("/fhir/DocumentReference/d2", json=broken, headers=FHIR_JSON)).status_code == 201
    letter = document_reference(encoded(letter_page(dpi=150), "PNG", dpi=150), "image/png", did="d3")
    await client.put("/fhir/DocumentReference/d3", json=letter, headers=FHIR_JSON)
    await run_jobs(runtime)
    done = await results(runtime)
    assert [status for _, status, _ in done] == ["done", "done", "done"]
    assert [r["status"] for _, _, r in done] == ["rejected", "rejected", "no-lab-results"]
    messages = [r["attachments"][0]["message"] for _, _, r in done]
    assert "damaged" in messages[0] and "damaged" in messages[1] and "no lab results" in messages[2]
    assert await search(client, "Observation") == []


async def test_a_missing_tesseract_is_a_clear_job_error(client):
    runtime = runtime_of(client)
    await client.put("/fhir/Patient/p1", json=patient(), headers=FHIR_JSON)
    image = encoded(letter_page(dpi=150), "PNG", dpi=150)
    await client.put("/fhir/DocumentReference/d1", json=document_reference(image, "image/png"), headers=FHIR_JSON)
    services = runtime.services
    pipeline = Pipeline(resources=services.resources, search=services.search, base_url="http://testserver/fhir",
                        ocr=OcrSettings(tesseract_cmd="/nonexistent/tesseract"))
    handlers = {EXTRACT: PipelineJobs(pipeline).extract}
    assert await Worker(runtime.jobs, handlers).run_until_idle() == 1
    [(_, status, result)] = await results(runtime)
    assert status == "failed"
    assert "OCR is not available" in result["error"] and "tesseract" in result["error"]


async def test_documents_are_read_outside_the_jobs_transaction(client, ocr_tools):
    """While a document is OCR'd, other writes commit (SQLite's one writer lock is free) and the job
    holds no PostgreSQL transaction open."""
    runtime = runtime_of(client)
    await client.put("/fhir/Patient/p1", json=patient(), headers=FHIR_JSON)
    await client.put("/fhir/DocumentReference/d1", json=document_reference(text_pdf([rows()]), "application/pdf"),
                     headers=FHIR_JSON)
    reading, release = threading.Event(), threading.Event()

    class SlowPipeline(Pipeline):
        def _read(self, data):
            reading.set()
            release.wait(30)
            return super()._read(data)

    services = runtime.services
    pipeline = SlowPipeline(resources=services.resources, search=services.search, base_url="http://testserver/fhir")
    worker = Worker(runtime.jobs, {EXTRACT: PipelineJobs(pipeline).extract})
    running = asyncio.create_task(worker.run_until_idle())
    try:
        assert await asyncio.to_thread(reading.wait, 30)
        async with asyncio.timeout(10):
            written = await client.post("/fhir/Observation", json=potassium("4.0"), headers=FHIR_JSON)
        assert written.status_code == 201
        if not runtime.store.is_sqlite:
            async with runtime.store.single() as db:
                assert await db.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND xact_start IS NOT NULL") == 0
    finally:
        release.set()
    assert await running == 1
    [(_, status, result)] = [r for r in await results(runtime) if r[0] == EXTRACT]
    assert status == "done" and result["status"] == "extracted", result


async def test_a_document_written_again_during_its_reading_is_left_to_the_newer_job(client, ocr_tools):
    runtime = runtime_of(client)
    await client.put("/fhir/Patient/p1", json=patient(), headers=FHIR_JSON)
    document = document_reference(text_pdf([rows()]), "application/pdf")
    await client.put("/fhir/DocumentReference/d1", json=document, headers=FHIR_JSON)
    handler = PipelineJobs(Pipeline(resources=runtime.services.resources, search=runtime.services.search,
                                    base_url="http://testserver/fhir")).extract
    job = await runtime.jobs.claim("w", [EXTRACT])
    read = await handler.prepare(job)
    document["status"] = "superseded"
    await client.put("/fhir/DocumentReference/d1", json=document, headers=FHIR_JSON)
    async with runtime.store.write() as tx:
        result = await handler.write(job, tx, read)
    assert result["status"] == "superseded" and "(2)" in result["reason"]
    assert await search(client, "Observation") == []


async def test_queued_assessments_run_together_each_patient_with_its_own_provenance(client):
    runtime = runtime_of(client)
    for pid in ("p1", "p2"):
        await client.put(f"/fhir/Patient/{pid}", json=patient(pid), headers=FHIR_JSON)
    earlier = (await client.post("/fhir/Observation", json=creatinine(), headers=FHIR_JSON)).json()
    await run_jobs(runtime)
    p1_result = (await client.post("/fhir/Observation", json=potassium(), headers=FHIR_JSON)).json()
    p2_result = (await client.post("/fhir/Observation", json=potassium("4.0", subject={"reference": "Patient/p2"}),
                                   headers=FHIR_JSON)).json()
    async with runtime.store.write() as tx:  # a second job for p1 besides the waiting one, and one for nobody
        await runtime.jobs.enqueue(tx, "ai-pipeline.assess", {"patient": "p1",
                                                              "sources": [f"Observation/{earlier['id']}/_history/1"]})
        await runtime.jobs.enqueue(tx, "ai-pipeline.assess", {"patient": "nobody", "sources": []})
    provenances_before = len(await search(client, "Provenance"))

    assert await run_jobs(runtime) == 1  # one claim: the four jobs ran as one batch
    done = [result for _, _, result in (await results(runtime))[1:]]
    by_patient = {}
    for result in done:
        by_patient.setdefault(result.get("patient"), []).append(result)
    p1_jobs, p2_jobs = by_patient["Patient/p1"], by_patient["Patient/p2"]
    assert len(p1_jobs) == 2 and p1_jobs[0] == p1_jobs[1]  # p1 assessed once, for both of its jobs
    assert [result["status"] for result in by_patient[None]] == ["skipped"]
    assert "nobody" in by_patient[None][0]["reason"]
    provenances = await search(client, "Provenance")
    assert len(provenances) == provenances_before + 2
    entities = {p["id"]: {e["what"]["reference"].split("/_history/")[0] for e in p.get("entity", [])}
                for p in provenances}
    assert entities[p1_jobs[0]["provenance"].split("/")[1]] == {f"Observation/{earlier['id']}",
                                                                f"Observation/{p1_result['id']}"}
    assert entities[p2_jobs[0]["provenance"].split("/")[1]] == {f"Observation/{p2_result['id']}"}
    p2_hyperkalaemia = [a for a in await search(client, "RiskAssessment?subject=Patient/p2")
                        if rule_of(a) == "ukka-hyperkalaemia-2020"]
    assert len(p2_hyperkalaemia) == 1 and "4.0" in p2_hyperkalaemia[0]["basis"][0]["display"]
