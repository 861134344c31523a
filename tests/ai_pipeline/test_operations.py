"""`$assess-risk` and `$extract` over HTTP, through the generic operation routes."""

from __future__ import annotations

import base64
import json
from decimal import Decimal

from tests.ai_pipeline.records import (
    FHIR_JSON,
    creatinine,
    document_reference,
    patient,
    potassium,
    search,
)
from tests.ai_pipeline.report_samples import Row, encoded, render_page, text_pdf

PARAMETERS = {"resourceType": "Parameters"}


def outputs(answer, name):
    """The named outputs of a Parameters answer, decimals kept exact."""
    body = json.loads(answer.text, parse_float=Decimal) if hasattr(answer, "text") else answer
    assert body["resourceType"] == "Parameters", body
    return [p["resource"] for p in body["parameter"] if p["name"] == name]


async def test_assess_risk_answers_now_and_writes_once(client):
    await client.put("/fhir/Patient/p1", json=patient(), headers=FHIR_JSON)
    await client.post("/fhir/Observation", json=creatinine(), headers=FHIR_JSON)
    await client.post("/fhir/Observation", json=potassium(), headers=FHIR_JSON)
    answer = await client.post("/fhir/Patient/p1/$assess-risk", json=PARAMETERS, headers=FHIR_JSON)
    assert answer.status_code == 200, answer.text
    rules = {a["method"]["coding"][0]["code"] for a in outputs(answer, "assessment")}
    assert {"ckd-epi-2021-kdigo", "ukka-hyperkalaemia-2020"} <= rules
    [outcome] = outputs(answer, "outcome")
    assert any("kfre-4-variable" in issue["diagnostics"] for issue in outcome["issue"])
    stored = await search(client, "RiskAssessment?subject=Patient/p1")
    assert len(stored) == len(rules)

    again = await client.post("/fhir/Patient/p1/$assess-risk", json=PARAMETERS, headers=FHIR_JSON)
    assert again.status_code == 200
    assert await search(client, "RiskAssessment?subject=Patient/p1") == stored
    assert outputs(again, "outcome")[0]["issue"][0]["diagnostics"].startswith("0 resource version(s) written")


async def test_assess_risk_limited_to_some_rules(client):
    await client.put("/fhir/Patient/p1", json=patient(), headers=FHIR_JSON)
    await client.post("/fhir/Observation", json=potassium(), headers=FHIR_JSON)
    body = {"resourceType": "Parameters", "parameter": [{"name": "rule", "valueCode": "ukka-hyperkalaemia-2020"}]}
    answer = await client.post("/fhir/Patient/p1/$assess-risk", json=body, headers=FHIR_JSON)
    assert [a["method"]["coding"][0]["code"] for a in outputs(answer, "assessment")] == ["ukka-hyperkalaemia-2020"]


async def test_assess_risk_bad_input(client):
    await client.put("/fhir/Patient/p1", json=patient(), headers=FHIR_JSON)
    unknown_rule = {"resourceType": "Parameters", "parameter": [{"name": "rule", "valueCode": "astrology"}]}
    answer = await client.post("/fhir/Patient/p1/$assess-risk", json=unknown_rule, headers=FHIR_JSON)
    assert answer.status_code == 400 and answer.json()["resourceType"] == "OperationOutcome"
    nobody = await client.post("/fhir/Patient/nobody/$assess-risk", json=PARAMETERS, headers=FHIR_JSON)
    assert nobody.status_code == 404 and nobody.json()["resourceType"] == "OperationOutcome"
    stray = {"resourceType": "Parameters", "parameter": [{"name": "colour", "valueString": "blue"}]}
    assert (await client.post("/fhir/Patient/p1/$assess-risk", json=stray, headers=FHIR_JSON)).status_code == 400
    assert (await client.post("/fhir/Patient/$assess-risk", json=PARAMETERS, headers=FHIR_JSON)).status_code == 404
    assert (await client.get("/fhir/Patient/p1/$assess-risk")).status_code == 405


ROWS = [Row("Creatinine", "2.10", "H", "mg/dL", "0.60 - 1.20", "2160-0", "mg/dL"),
        Row("Potassium", "6.9", "HH", "mmol/L", "3.5 - 5.3", "2823-3", "mmol/L"),
        Row("Haemoglobin", "96", "L", "g/L", "115 - 165", "718-7", "g/L")]


async def test_extract_reads_a_text_pdf_and_files_its_results(client):
    await client.put("/fhir/Patient/p1", json=patient(), headers=FHIR_JSON)
    await client.put("/fhir/DocumentReference/d1", json=document_reference(text_pdf([ROWS]), "application/pdf"),
                     headers=FHIR_JSON)
    answer = await client.post("/fhir/DocumentReference/d1/$extract", json=PARAMETERS, headers=FHIR_JSON)
    assert answer.status_code == 200, answer.text
    observations = outputs(answer, "observation")
    assert {(o["code"]["coding"][0]["code"], str(o["valueQuantity"]["value"])) for o in observations} == {
        ("2160-0", "2.10"), ("2823-3", "6.9"), ("718-7", "96")}
    assert {a["method"]["coding"][0]["code"] for a in outputs(answer, "assessment")} >= {
        "ukka-hyperkalaemia-2020", "who-anaemia-2011"}
    assert len(await search(client, "Observation?derived-from=DocumentReference/d1")) == 3
    again = await client.post("/fhir/DocumentReference/d1/$extract", json=PARAMETERS, headers=FHIR_JSON)
    assert again.status_code == 200
    assert len(await search(client, "Observation")) == 3


async def test_extract_reads_a_scanned_image_with_tesseract(client, ocr_tools):
    await client.put("/fhir/Patient/p1", json=patient(), headers=FHIR_JSON)
    image = encoded(render_page(ROWS), "PNG")
    await client.put("/fhir/DocumentReference/d1", json=document_reference(image, "image/png"), headers=FHIR_JSON)
    answer = await client.post("/fhir/DocumentReference/d1/$extract", json=PARAMETERS, headers=FHIR_JSON)
    assert answer.status_code == 200, answer.text
    values = {o["code"]["coding"][0]["code"]: str(o["valueQuantity"]["value"])
              for o in outputs(answer, "observation")}
    assert values == {"2160-0": "2.10", "2823-3": "6.9", "718-7": "96"}


async def test_extract_bad_input(client):
    await client.put("/fhir/Patient/p1", json=patient(), headers=FHIR_JSON)
    text_only = {"resourceType": "DocumentReference", "id": "d1", "status": "current",
                 "subject": {"reference": "Patient/p1"},
                 "content": [{"attachment": {"contentType": "text/plain", "data": "aGVsbG8="}}]}
    await client.put("/fhir/DocumentReference/d1", json=text_only, headers=FHIR_JSON)
    answer = await client.post("/fhir/DocumentReference/d1/$extract", json=PARAMETERS, headers=FHIR_JSON)
    assert answer.status_code == 400 and answer.json()["resourceType"] == "OperationOutcome"
    damaged = document_reference(b"%PDF-1.7\n%%EOF\n", "application/pdf", did="d2")
    await client.put("/fhir/DocumentReference/d2", json=damaged, headers=FHIR_JSON)
    answer = await client.post("/fhir/DocumentReference/d2/$extract", json=PARAMETERS, headers=FHIR_JSON)
    assert answer.status_code == 422 and "damaged" in answer.json()["issue"][0]["diagnostics"]
    elsewhere = {**text_only, "id": "d3", "content": [{"attachment": {"contentType": "application/pdf",
                                                                       "url": "https://example.org/report.pdf"}}]}
    await client.put("/fhir/DocumentReference/d3", json=elsewhere, headers=FHIR_JSON)
    answer = await client.post("/fhir/DocumentReference/d3/$extract", json=PARAMETERS, headers=FHIR_JSON)
    assert answer.status_code == 422 and "Binary" in answer.json()["issue"][0]["diagnostics"]
    missing = await client.post("/fhir/DocumentReference/nothing/$extract", json=PARAMETERS, headers=FHIR_JSON)
    assert missing.status_code == 404
    assert await search(client, "Observation") == []


async def test_extract_reads_a_binary_on_this_server(client):
    await client.put("/fhir/Patient/p1", json=patient(), headers=FHIR_JSON)
    binary = {"resourceType": "Binary", "id": "b1", "contentType": "application/pdf",
              "data": base64.b64encode(text_pdf([ROWS])).decode()}
    assert (await client.put("/fhir/Binary/b1", json=binary, headers=FHIR_JSON)).status_code == 201
    reference = {"resourceType": "DocumentReference", "id": "d1", "status": "current",
                 "subject": {"reference": "Patient/p1"},
                 "content": [{"attachment": {"contentType": "application/pdf", "url": "Binary/b1"}}]}
    await client.put("/fhir/DocumentReference/d1", json=reference, headers=FHIR_JSON)
    answer = await client.post("/fhir/DocumentReference/d1/$extract", json=PARAMETERS, headers=FHIR_JSON)
    assert answer.status_code == 200, answer.text
    assert len(outputs(answer, "observation")) == 3


async def test_the_capability_statement_lists_both_operations(client):
    statement = (await client.get("/fhir/metadata")).json()
    by_type = {r["type"]: {o["name"]: o["definition"] for o in r.get("operation", [])}
               for r in statement["rest"][0]["resource"]}
    assert by_type["Patient"]["assess-risk"].endswith("/OperationDefinition/Patient-assess-risk")
    assert by_type["DocumentReference"]["extract"].endswith("/OperationDefinition/DocumentReference-extract")
