"""$operations through the generic routes, with $validate as the example."""

from __future__ import annotations

from tests.fhir_server.api.samples import observation, patient

FHIR_JSON = {"content-type": "application/fhir+json"}


def issues(response):
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    return body["issue"]


async def test_validate_a_valid_resource(client):
    response = await client.post("/fhir/Patient/$validate", json=patient(), headers=FHIR_JSON)
    assert response.status_code == 200, response.text
    found = issues(response)
    assert [i["severity"] for i in found] == ["information"]
    assert (await client.get("/fhir/Patient/_history")).json().get("entry", []) == []  # nothing stored


async def test_validate_reports_every_problem_with_its_location(client):
    bad = observation(status="bogus", colour="blue")
    response = await client.post("/fhir/Observation/$validate", json=bad, headers=FHIR_JSON)
    assert response.status_code == 200
    found = issues(response)
    expressions = {e for i in found for e in i.get("expression", [])}
    assert {"Observation.status", "Observation.colour"} <= expressions
    assert all(i["severity"] == "error" for i in found)


async def test_validate_with_parameters_body_and_modes(client):
    created = (await client.post("/fhir/Patient", json=patient(), headers=FHIR_JSON)).json()
    pid = created["id"]
    params = {"resourceType": "Parameters", "parameter": [
        {"name": "resource", "resource": {**created, "id": "someone-else"}},
        {"name": "mode", "valueCode": "update"}]}
    response = await client.post(f"/fhir/Patient/{pid}/$validate", json=params, headers=FHIR_JSON)
    assert any("must be" in i["diagnostics"] for i in issues(response))
    delete_ok = await client.post(f"/fhir/Patient/{pid}/$validate", params={"mode": "delete"},
                                  json={"resourceType": "Parameters"}, headers=FHIR_JSON)
    assert issues(delete_ok)[0]["severity"] == "information"
    delete_missing = await client.post("/fhir/Patient/nobody/$validate", params={"mode": "delete"},
                                       json={"resourceType": "Parameters"}, headers=FHIR_JSON)
    assert issues(delete_missing)[0]["code"] == "not-found"
    wrong_profile = await client.post("/fhir/Patient/$validate", params={"profile": "http://example.org/p"},
                                      json=patient(), headers=FHIR_JSON)
    assert any(i["code"] == "not-supported" for i in issues(wrong_profile))


async def test_operation_errors(client):
    unknown = await client.post("/fhir/Patient/$frobnicate", json={"resourceType": "Parameters"}, headers=FHIR_JSON)
    assert unknown.status_code == 404 and issues(unknown)[0]["code"] == "not-supported"
    system_level = await client.post("/fhir/$validate", json=patient(), headers=FHIR_JSON)
    assert system_level.status_code == 404
    bad_mode = await client.post("/fhir/Patient/$validate", params={"mode": "sideways"}, json=patient(),
                                 headers=FHIR_JSON)
    assert bad_mode.status_code == 400
    unknown_param = await client.post("/fhir/Patient/$validate", params={"colour": "red"}, json=patient(),
                                      headers=FHIR_JSON)
    assert unknown_param.status_code == 400
    no_resource = await client.post("/fhir/Patient/$validate", json={"resourceType": "Parameters"},
                                    headers=FHIR_JSON)
    assert no_resource.status_code == 400
    not_json = await client.post("/fhir/Patient/$validate", content=b"{", headers=FHIR_JSON)
    assert not_json.status_code == 400
    not_object = await client.post("/fhir/Patient/$validate", content=b"[1]", headers=FHIR_JSON)
    assert not_object.status_code == 400


async def test_capability_statement_lists_the_operations(client):
    statement = (await client.get("/fhir/metadata")).json()
    patient = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Patient")
    assert {"name": "validate", "definition": "http://hl7.org/fhir/OperationDefinition/Resource-validate"} in patient["operation"]
