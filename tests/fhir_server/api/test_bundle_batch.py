"""Batch Bundles: each entry on its own, with its own status and OperationOutcome."""

from __future__ import annotations

from tests.fhir_server.api.samples import observation, patient

MRN = "http://hospital.example.org/mrn"


def batch(*entries):
    return {"resourceType": "Bundle", "type": "batch", "entry": list(entries)}


async def send(client, body, headers=None):
    response = await client.post("/fhir", json=body, headers={"content-type": "application/fhir+json",
                                                              **(headers or {})})
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["type"] == "batch-response"
    return result["entry"]


async def test_entries_succeed_and_fail_independently(client):
    await client.put("/fhir/Patient/b1", json=patient(id="b1"))
    entries = await send(client, batch(
        {"resource": patient(), "request": {"method": "POST", "url": "Patient"}},
        {"resource": patient(gender="not-a-gender"), "request": {"method": "POST", "url": "Patient"}},
        {"request": {"method": "GET", "url": "Patient/nobody"}},
        {"resource": patient(id="b1", active=False), "request": {"method": "PUT", "url": "Patient/b1",
                                                                 "ifMatch": 'W/"9"'}},
        {"request": {"method": "GET", "url": "Patient/b1"}},
        {"request": {"method": "DELETE", "url": "Patient/b1"}},
        {"resource": observation(), "request": {"method": "PUT", "url": "Observation/o1"}},
    ))
    statuses = [entry["response"]["status"] for entry in entries]
    assert statuses == ["201 Created", "422 Unprocessable Entity", "404 Not Found", "412 Precondition Failed",
                        "410 Gone", "204 No Content", "400 Bad Request"]
    invalid = entries[1]["response"]["outcome"]
    assert invalid["resourceType"] == "OperationOutcome"
    assert invalid["issue"][0]["expression"] == ["Bundle.entry[1].resource.gender"]
    assert entries[2]["response"]["outcome"]["issue"][0]["expression"] == ["Bundle.entry[2]"]
    assert "Bundle.entry[3]" in entries[3]["response"]["outcome"]["issue"][0]["diagnostics"]
    assert "must carry id" in entries[6]["response"]["outcome"]["issue"][0]["diagnostics"]
    created = entries[0]["response"]["location"].rsplit("/_history", 1)[0]
    assert (await client.get(f"/fhir/{created}")).status_code == 200  # committed despite the failures
    # the GET ran after the DELETE (entries are processed DELETE, POST, PUT, GET), so it saw 410
    assert (await client.get("/fhir/Patient/b1")).status_code == 410


async def test_batch_reads_and_searches(client):
    await client.put("/fhir/Patient/b2", json=patient(id="b2", identifier=[{"system": MRN, "value": "B2"}]))
    entries = await send(client, batch(
        {"request": {"method": "GET", "url": "Patient/b2"}},
        {"request": {"method": "GET", "url": "Patient/b2/_history/1"}},
        {"request": {"method": "GET", "url": f"Patient?identifier={MRN}|B2"}},
        {"request": {"method": "GET", "url": "Patient?no-such-param=1"}},
        {"request": {"method": "GET", "url": "Patient/b2", "ifNoneMatch": 'W/"1"'}},
    ))
    assert [e["response"]["status"] for e in entries] == ["200 OK", "200 OK", "200 OK", "400 Bad Request",
                                                          "304 Not Modified"]
    assert entries[0]["resource"]["id"] == "b2"
    assert entries[2]["resource"]["total"] == 1 or len(entries[2]["resource"]["entry"]) == 1


async def test_batch_entries_do_not_resolve_each_other(client):
    urn = "urn:uuid:8e0b6f7c-33e8-4f1a-a7cb-0f8f6b0c0c01"
    entries = await send(client, batch(
        {"fullUrl": urn, "resource": patient(), "request": {"method": "POST", "url": "Patient"}},
        {"resource": observation(subject={"reference": urn}), "request": {"method": "POST", "url": "Observation"}},
    ))
    assert [e["response"]["status"] for e in entries] == ["201 Created", "201 Created"]
    stored = entries[1]["resource"]
    assert stored["subject"]["reference"] == urn


async def test_batch_prefer_minimal_and_conditional_create(client):
    headers = {"prefer": "return=minimal"}
    body = batch({"resource": patient(identifier=[{"system": MRN, "value": "BC"}]),
                  "request": {"method": "POST", "url": "Patient", "ifNoneExist": f"identifier={MRN}|BC"}})
    first = await send(client, body, headers)
    second = await send(client, body, headers)
    assert first[0]["response"]["status"] == "201 Created" and "resource" not in first[0]
    assert second[0]["response"]["status"] == "200 OK"
    assert second[0]["response"]["location"] == first[0]["response"]["location"]
