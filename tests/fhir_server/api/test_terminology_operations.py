"""Terminology operations over HTTP, and user-created terminology resources taking part in them."""

from __future__ import annotations

FHIR_JSON = {"content-type": "application/fhir+json"}
LOINC = "http://loinc.org"


def parameter(body, name):
    return next(p for p in body["parameter"] if p["name"] == name)


async def test_lookup_and_validate_code(client):
    response = await client.get("/fhir/CodeSystem/$lookup", params={"system": LOINC, "code": "2160-0"})
    assert response.status_code == 200, response.text
    assert "Creatinine" in parameter(response.json(), "display")["valueString"]
    valid = await client.get("/fhir/ValueSet/$validate-code", params={
        "url": "http://hl7.org/fhir/ValueSet/administrative-gender", "system": "http://hl7.org/fhir/administrative-gender",
        "code": "female"})
    assert parameter(valid.json(), "result")["valueBoolean"] is True
    invalid = await client.get("/fhir/ValueSet/$validate-code", params={
        "url": "http://hl7.org/fhir/ValueSet/administrative-gender", "system": "http://hl7.org/fhir/administrative-gender",
        "code": "Male"})
    assert parameter(invalid.json(), "result")["valueBoolean"] is False


async def test_errors(client):
    unknown = await client.get("/fhir/CodeSystem/$lookup", params={"system": "http://example.org/none", "code": "x"})
    assert unknown.status_code == 404 and unknown.json()["resourceType"] == "OperationOutcome"
    missing = await client.get("/fhir/CodeSystem/$lookup", params={"system": LOINC})
    assert missing.status_code == 400
    wrong_level = await client.get("/fhir/Patient/$lookup", params={"system": LOINC, "code": "2160-0"})
    assert wrong_level.status_code == 404


async def test_user_created_value_set_takes_part(client):
    value_set = {"resourceType": "ValueSet", "url": "http://hospital.example.org/vs/renal-labs", "status": "active",
                 "compose": {"include": [{"system": LOINC, "concept": [{"code": "2160-0"}, {"code": "33914-3"}]}]}}
    created = await client.post("/fhir/ValueSet", json=value_set, headers=FHIR_JSON)
    assert created.status_code == 201
    vs_id = created.json()["id"]
    expanded = await client.get("/fhir/ValueSet/$expand", params={"url": value_set["url"]})
    assert expanded.status_code == 200, expanded.text
    assert {c["code"] for c in expanded.json()["expansion"]["contains"]} == {"2160-0", "33914-3"}
    by_instance = await client.get(f"/fhir/ValueSet/{vs_id}/$expand")
    assert by_instance.status_code == 200 and by_instance.json()["expansion"]["total"] == 2
    await client.delete(f"/fhir/ValueSet/{vs_id}")
    gone = await client.get("/fhir/ValueSet/$expand", params={"url": value_set["url"]})
    assert gone.status_code == 404
