"""JSON Patch (https://hl7.org/fhir/R4/http.html#patch)."""

from __future__ import annotations

from tests.fhir_server.api.samples import patient

FHIR_JSON = {"content-type": "application/fhir+json"}
JSON_PATCH = {"content-type": "application/json-patch+json"}


async def make_patient(client):
    return (await client.post("/fhir/Patient", json=patient(), headers=FHIR_JSON)).json()


async def test_json_patch_makes_a_new_version(client):
    created = await make_patient(client)
    url = f"/fhir/Patient/{created['id']}"
    ops = [{"op": "replace", "path": "/gender", "value": "other"},
           {"op": "add", "path": "/name/0/given/-", "value": "Chioma"}]
    response = await client.patch(url, json=ops, headers=JSON_PATCH)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["gender"] == "other"
    assert body["name"][0]["given"] == ["Adaeze", "N.", "Chioma"]
    assert body["meta"]["versionId"] == "2"
    history = (await client.get(f"{url}/_history")).json()
    assert [e["request"]["method"] for e in history["entry"]] == ["PATCH", "POST"]


async def test_patch_with_if_match(client):
    created = await make_patient(client)
    url = f"/fhir/Patient/{created['id']}"
    ops = [{"op": "replace", "path": "/active", "value": False}]
    assert (await client.patch(url, json=ops, headers={**JSON_PATCH, "if-match": 'W/"2"'})).status_code == 412
    assert (await client.patch(url, json=ops, headers={**JSON_PATCH, "if-match": 'W/"1"'})).status_code == 200


async def test_bad_patches(client):
    created = await make_patient(client)
    url = f"/fhir/Patient/{created['id']}"
    not_a_patch = await client.patch(url, json={"op": "replace"}, headers=JSON_PATCH)
    assert not_a_patch.status_code == 400
    unknown_op = await client.patch(url, json=[{"op": "frobnicate", "path": "/a"}], headers=JSON_PATCH)
    assert unknown_op.status_code == 400
    failed_test = await client.patch(url, json=[{"op": "test", "path": "/gender", "value": "male"}], headers=JSON_PATCH)
    assert failed_test.status_code == 422
    missing_path = await client.patch(url, json=[{"op": "remove", "path": "/deceasedBoolean"}], headers=JSON_PATCH)
    assert missing_path.status_code == 422
    change_id = await client.patch(url, json=[{"op": "replace", "path": "/id", "value": "other"}], headers=JSON_PATCH)
    assert change_id.status_code == 400
    invalid_result = await client.patch(url, json=[{"op": "add", "path": "/colour", "value": "blue"}], headers=JSON_PATCH)
    assert invalid_result.status_code == 400
    fhirpath_patch = await client.patch(url, json={"resourceType": "Parameters"}, headers=FHIR_JSON)
    assert fhirpath_patch.status_code == 415
    assert (await client.get(url)).json()["meta"]["versionId"] == "1"
    gone = await client.patch("/fhir/Patient/nope", json=[{"op": "remove", "path": "/active"}], headers=JSON_PATCH)
    assert gone.status_code == 404
