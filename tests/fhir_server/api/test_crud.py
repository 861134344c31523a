"""create, read, vread, update, delete over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

from tests.fhir_server.api.samples import OBSERVATION_BYTES, patient

FHIR_JSON = {"content-type": "application/fhir+json"}


async def create(client, resource):
    response = await client.post(f"/fhir/{resource['resourceType']}", json=resource, headers=FHIR_JSON)
    assert response.status_code == 201, response.text
    return response


async def test_create_assigns_id_version_and_headers(client):
    response = await create(client, patient())
    body = response.json()
    assert body["resourceType"] == "Patient"
    assert len(body["id"]) == 36
    assert body["meta"]["versionId"] == "1"
    assert body["meta"]["lastUpdated"].endswith("+00:00")
    assert response.headers["etag"] == 'W/"1"'
    assert response.headers["location"] == f"http://testserver/fhir/Patient/{body['id']}/_history/1"
    assert response.headers["last-modified"].endswith("GMT")
    assert response.headers["content-type"] == "application/fhir+json; charset=utf-8"
    assert body["name"] == patient()["name"]


async def test_create_ignores_client_id_and_version(client):
    response = await create(client, patient(id="chosen-by-client", meta={"versionId": "9", "tag": [{"code": "t"}]}))
    body = response.json()
    assert body["id"] != "chosen-by-client"
    assert body["meta"]["versionId"] == "1"
    assert body["meta"]["tag"] == [{"code": "t"}]


async def test_decimals_and_instants_come_back_exactly_as_sent(client):
    response = await client.post("/fhir/Observation", content=OBSERVATION_BYTES, headers=FHIR_JSON)
    assert response.status_code == 201, response.text
    read = await client.get(f"/fhir/Observation/{response.json()['id']}")
    assert b'"value":7.10' in read.content
    assert b'"effectiveDateTime":"2026-11-20T08:30:00.000+01:00"' in read.content


async def test_read_returns_the_stored_version(client):
    created = (await create(client, patient())).json()
    response = await client.get(f"/fhir/Patient/{created['id']}")
    assert response.status_code == 200
    assert response.json() == created
    assert response.headers["etag"] == 'W/"1"'


async def test_read_unknown_id_is_404_with_outcome(client):
    response = await client.get("/fhir/Patient/does-not-exist")
    assert response.status_code == 404
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == "not-found"


async def test_unknown_resource_type_is_404(client):
    response = await client.get("/fhir/Spaceship/1")
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"
    response = await client.post("/fhir/Spaceship", json={"resourceType": "Spaceship"}, headers=FHIR_JSON)
    assert response.status_code == 404


async def test_update_makes_a_new_version_and_keeps_the_old(client):
    created = (await create(client, patient())).json()
    changed = {**created, "gender": "other"}
    response = await client.put(f"/fhir/Patient/{created['id']}", json=changed, headers=FHIR_JSON)
    assert response.status_code == 200, response.text
    assert response.json()["meta"]["versionId"] == "2"
    assert response.headers["etag"] == 'W/"2"'
    assert response.headers["location"].endswith(f"/Patient/{created['id']}/_history/2")
    old = await client.get(f"/fhir/Patient/{created['id']}/_history/1")
    assert old.status_code == 200
    assert old.json()["gender"] == "female"
    assert (await client.get(f"/fhir/Patient/{created['id']}")).json()["gender"] == "other"


async def test_update_as_create_with_client_id(client):
    response = await client.put("/fhir/Patient/mrn-1001", json=patient(id="mrn-1001"), headers=FHIR_JSON)
    assert response.status_code == 201, response.text
    assert response.json()["id"] == "mrn-1001"
    assert response.json()["meta"]["versionId"] == "1"


async def test_update_id_must_match_url(client):
    response = await client.put("/fhir/Patient/a", json=patient(id="b"), headers=FHIR_JSON)
    assert response.status_code == 400
    assert "does not match" in response.json()["issue"][0]["diagnostics"]
    response = await client.put("/fhir/Patient/a", json=patient(), headers=FHIR_JSON)
    assert response.status_code == 400
    response = await client.put("/fhir/Patient/bad$id", json=patient(id="bad$id"), headers=FHIR_JSON)
    assert response.status_code == 400


async def test_if_match_refuses_a_stale_version(client):
    created = (await create(client, patient())).json()
    url = f"/fhir/Patient/{created['id']}"
    ok = await client.put(url, json=created, headers={**FHIR_JSON, "if-match": 'W/"1"'})
    assert ok.status_code == 200
    stale = await client.put(url, json=created, headers={**FHIR_JSON, "if-match": 'W/"1"'})
    assert stale.status_code == 412
    assert stale.json()["resourceType"] == "OperationOutcome"
    assert (await client.get(url)).json()["meta"]["versionId"] == "2"


async def test_delete_then_read_is_gone(client):
    created = (await create(client, patient())).json()
    url = f"/fhir/Patient/{created['id']}"
    response = await client.delete(url)
    assert response.status_code == 204
    gone = await client.get(url)
    assert gone.status_code == 410
    assert gone.json()["issue"][0]["code"] == "deleted"
    assert (await client.get(f"{url}/_history/1")).status_code == 200
    assert (await client.get(f"{url}/_history/2")).status_code == 410
    again = await client.delete(url)
    assert again.status_code == 204


async def test_update_after_delete_revives_the_resource(client):
    created = (await create(client, patient())).json()
    url = f"/fhir/Patient/{created['id']}"
    await client.delete(url)
    response = await client.put(url, json=created, headers=FHIR_JSON)
    assert response.status_code == 201
    assert response.json()["meta"]["versionId"] == "3"


async def test_vread_unknown_version_is_404(client):
    created = (await create(client, patient())).json()
    assert (await client.get(f"/fhir/Patient/{created['id']}/_history/7")).status_code == 404
    assert (await client.get(f"/fhir/Patient/{created['id']}/_history/x")).status_code == 404


async def test_conditional_read_headers_give_304(client):
    created = await create(client, patient())
    url = f"/fhir/Patient/{created.json()['id']}"
    response = await client.get(url, headers={"if-none-match": 'W/"1"'})
    assert response.status_code == 304
    assert response.content == b""
    response = await client.get(url, headers={"if-none-match": 'W/"2"'})
    assert response.status_code == 200
    response = await client.get(url, headers={"if-modified-since": created.headers["last-modified"]})
    assert response.status_code == 304
    response = await client.get(url, headers={"if-modified-since": "Mon, 01 Jan 2001 00:00:00 GMT"})
    assert response.status_code == 200


async def test_prefer_return(client):
    minimal = await client.post("/fhir/Patient", json=patient(),
                                headers={**FHIR_JSON, "prefer": "return=minimal"})
    assert minimal.status_code == 201
    assert minimal.content == b""
    assert minimal.headers["location"]
    outcome = await client.post("/fhir/Patient", json=patient(),
                                headers={**FHIR_JSON, "prefer": "return=OperationOutcome"})
    assert outcome.status_code == 201
    assert outcome.json()["resourceType"] == "OperationOutcome"
    representation = await client.post("/fhir/Patient", json=patient(),
                                       headers={**FHIR_JSON, "prefer": "return=representation"})
    assert representation.json()["resourceType"] == "Patient"


async def test_json_and_pretty_formats(client):
    created = (await create(client, patient())).json()
    url = f"/fhir/Patient/{created['id']}"
    plain = await client.get(url, headers={"accept": "application/json"})
    assert plain.headers["content-type"] == "application/json; charset=utf-8"
    pretty = await client.get(url, params={"_pretty": "true"})
    assert b"\n  " in pretty.content
    assert json.loads(pretty.content) == created
    formatted = await client.get(url, params={"_format": "json"})
    assert formatted.status_code == 200
    browser = await client.get(url, headers={"accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert browser.status_code == 200


async def test_summary_and_elements_on_read(client):
    created = (await create(client, patient(text={"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Adaeze</div>"}))).json()
    url = f"/fhir/Patient/{created['id']}"
    summary = (await client.get(url, params={"_summary": "true"})).json()
    assert "name" in summary and "birthDate" in summary
    assert "text" not in summary and "address" in summary  # address is a summary element of Patient
    assert any(tag["code"] == "SUBSETTED" for tag in summary["meta"]["tag"])
    data = (await client.get(url, params={"_summary": "data"})).json()
    assert "text" not in data and "name" in data
    text = (await client.get(url, params={"_summary": "text"})).json()
    assert "text" in text and "name" not in text
    elements = (await client.get(url, params={"_elements": "gender"})).json()
    assert set(elements) == {"resourceType", "id", "meta", "gender"}
    bad = await client.get(url, params={"_summary": "everything"})
    assert bad.status_code == 400
