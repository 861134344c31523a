"""Bad input gets the right 4xx with an OperationOutcome, and never writes anything."""

from __future__ import annotations

import pytest

from tests.fhir_server.api.samples import observation, patient

FHIR_JSON = {"content-type": "application/fhir+json"}


def assert_outcome(response, status, code=None):
    assert response.status_code == status, response.text
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"] and body["issue"][0]["diagnostics"]
    if code is not None:
        assert body["issue"][0]["code"] == code
    return body


async def count_versions(client):
    history = await client.get("/fhir/_history", params={"_count": "1000"})
    return len(history.json().get("entry", []))


@pytest.mark.parametrize("body", [
    b"{not json", b"", b"   ", b"[1,2,3]", b'"Patient"', b"null", b'{"resourceType":"Patient","active":true,"active":false}',
    b"\xff\xfe\x00garbage", b'{"resourceType": "Patient", "birthDate": NaN}',
])
async def test_malformed_bodies_are_400(client, body):
    response = await client.post("/fhir/Patient", content=body, headers=FHIR_JSON)
    assert_outcome(response, 400)
    assert await count_versions(client) == 0


async def test_wrong_resource_type_is_400(client):
    response = await client.post("/fhir/Patient", json=observation(), headers=FHIR_JSON)
    body = assert_outcome(response, 400)
    assert "does not match" in body["issue"][0]["diagnostics"]
    response = await client.post("/fhir/Patient", json={"name": [{"family": "x"}]}, headers=FHIR_JSON)
    assert_outcome(response, 400)


@pytest.mark.parametrize("resource, where", [
    (patient(colour="blue"), "Patient.colour"),
    (patient(active="yes"), "Patient.active"),
    (patient(birthDate="12/03/1984"), "Patient.birthDate"),
    (patient(name={"family": "x"}), "Patient.name"),
    (patient(name=[]), "Patient.name"),
    (patient(gender=""), "Patient.gender"),
    (observation(status=None), "Observation.status"),
    (observation(valueFoo=3), "Observation.valueFoo"),
])
async def test_invalid_elements_are_400_with_location(client, resource, where):
    response = await client.post(f"/fhir/{resource['resourceType']}", json=resource, headers=FHIR_JSON)
    body = assert_outcome(response, 400)
    expressions = [e for issue in body["issue"] for e in issue.get("expression", [])]
    assert any(e.startswith(where) for e in expressions), body
    assert await count_versions(client) == 0


async def test_missing_required_element_is_400(client):
    resource = observation()
    del resource["code"]
    response = await client.post("/fhir/Observation", json=resource, headers=FHIR_JSON)
    body = assert_outcome(response, 400)
    assert any("Observation.code" in e for i in body["issue"] for e in i.get("expression", []))


async def test_code_outside_required_binding_is_422(client):
    response = await client.post("/fhir/Observation", json=observation(status="bogus"), headers=FHIR_JSON)
    body = assert_outcome(response, 422)
    assert body["issue"][0]["code"] == "code-invalid"
    response = await client.post("/fhir/Patient", json=patient(gender="Male"), headers=FHIR_JSON)
    assert_outcome(response, 422)
    assert await count_versions(client) == 0


async def test_xml_is_refused_clearly(client):
    response = await client.get("/fhir/metadata", params={"_format": "xml"})
    body = assert_outcome(response, 406)
    assert "JSON only" in body["issue"][0]["diagnostics"]
    response = await client.get("/fhir/metadata", headers={"accept": "application/fhir+xml"})
    assert_outcome(response, 406)
    response = await client.post("/fhir/Patient", content=b"<Patient/>", headers={"content-type": "application/fhir+xml"})
    assert_outcome(response, 415)
    response = await client.post("/fhir/Patient", content=b"name=x", headers={"content-type": "text/plain"})
    assert_outcome(response, 415)
    response = await client.get("/fhir/metadata", headers={"accept": "application/fhir+json; fhirVersion=3.0"})
    assert_outcome(response, 406)


async def test_body_over_the_limit_is_413(client):
    big = patient(name=[{"family": "x" * 11_000_000}])
    response = await client.post("/fhir/Patient", json=big, headers=FHIR_JSON)
    assert_outcome(response, 413)


async def test_unknown_path_and_method_give_outcomes(client):
    assert_outcome(await client.get("/fhir/Patient/1/_history/1/extra"), 404)
    assert_outcome(await client.post("/fhir/Patient/1"), 405)
    assert_outcome(await client.get("/fhir/_history", params={"_count": "many"}), 400)
    assert_outcome(await client.get("/fhir/_history", params={"_since": "yesterday"}), 400)
    assert_outcome(await client.get("/fhir/_history", params={"_page": "!!!"}), 400)


async def test_bad_if_match_is_400(client):
    created = (await client.post("/fhir/Patient", json=patient(), headers=FHIR_JSON)).json()
    response = await client.put(f"/fhir/Patient/{created['id']}", json=created,
                                headers={**FHIR_JSON, "if-match": "yesterday"})
    assert_outcome(response, 400)
