"""Transaction Bundles over HTTP (https://hl7.org/fhir/R4/http.html#transaction), on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json

from sqlalchemy import select

from fhir_server.db.tables import resource_versions, resources
from tests.fhir_server.api.samples import observation, patient

MRN = "http://hospital.example.org/mrn"
LOINC = "http://loinc.org"
P1 = "urn:uuid:6f1c1f2e-2f0a-4c55-9f59-0d2b3c8a1a01"
E1 = "urn:uuid:6f1c1f2e-2f0a-4c55-9f59-0d2b3c8a1a02"


def bundle(*entries, kind="transaction"):
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def post(resource, full_url=None, **request):
    entry = {"resource": resource, "request": {"method": "POST", "url": resource["resourceType"], **request}}
    if full_url:
        entry["fullUrl"] = full_url
    return entry


def put(resource, url, full_url=None, **request):
    entry = {"resource": resource, "request": {"method": "PUT", "url": url, **request}}
    if full_url:
        entry["fullUrl"] = full_url
    return entry


def get(url, **request):
    return {"request": {"method": "GET", "url": url, **request}}


def delete(url, **request):
    return {"request": {"method": "DELETE", "url": url, **request}}


def with_mrn(value, **changes):
    return patient(identifier=[{"system": MRN, "value": value}], **changes)


async def send(client, body, status=200, headers=None):
    response = await client.post("/fhir", json=body, headers={"content-type": "application/fhir+json",
                                                              **(headers or {})})
    assert response.status_code == status, response.text
    return response.json()


async def versions(client):
    history = await client.get("/fhir/_history", params={"_count": "1000"})
    return len(history.json().get("entry", []))


def target(entry):
    return entry["response"]["location"].rsplit("/_history", 1)[0]


async def test_urn_references_are_resolved_everywhere(client):
    encounter = {"resourceType": "Encounter", "status": "finished",
                 "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
                 "subject": {"reference": P1}}
    obs = observation(subject={"reference": P1}, encounter={"reference": E1},
                      text={"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">'
                                                         f'<a href="{P1}">the patient</a></div>'},
                      derivedFrom=[{"reference": E1}])
    obs["extension"] = [{"url": "http://example.org/source", "valueUri": P1}]
    body = await send(client, bundle(post(obs), post(encounter, E1), post(with_mrn("T1"), P1)))
    assert body["resourceType"] == "Bundle" and body["type"] == "transaction-response"
    entries = body["entry"]
    assert [e["response"]["status"] for e in entries] == ["201 Created"] * 3
    obs_ref, enc_ref, pat_ref = (target(e) for e in entries)
    assert pat_ref.startswith("Patient/") and enc_ref.startswith("Encounter/")
    for entry in entries:
        assert entry["response"]["etag"] == 'W/"1"'
        assert entry["response"]["lastModified"].endswith("+00:00")
        assert entry["fullUrl"] == f"http://testserver/fhir/{target(entry)}"
        assert entry["resource"]["id"] == target(entry).split("/")[1]
    stored = (await client.get(f"/fhir/{obs_ref}")).json()
    assert stored["subject"]["reference"] == pat_ref
    assert stored["encounter"]["reference"] == enc_ref
    assert stored["derivedFrom"][0]["reference"] == enc_ref
    assert stored["extension"][0]["valueUri"] == pat_ref
    assert f'href="{pat_ref}"' in stored["text"]["div"]
    assert (await client.get(f"/fhir/{enc_ref}")).json()["subject"]["reference"] == pat_ref
    # indexed like a single create: searching by the resolved reference finds the observation
    found = (await client.get("/fhir/Observation", params={"subject": pat_ref})).json()
    assert [e["resource"]["id"] for e in found["entry"]] == [obs_ref.split("/")[1]]


async def test_urns_in_conditional_urls_are_resolved(client):
    code = {"coding": [{"system": LOINC, "code": "2345-7"}]}
    first = bundle(put(with_mrn("T2", id="t2"), "Patient/t2", P1),
                   post(observation(code=code, subject={"reference": P1}),
                        ifNoneExist=f"subject={P1}&code={LOINC}|2345-7"))
    created = await send(client, first)
    assert [e["response"]["status"] for e in created["entry"]] == ["201 Created", "201 Created"]
    again = await send(client, first)
    assert [e["response"]["status"] for e in again["entry"]] == ["200 OK", "200 OK"]
    assert target(again["entry"][1]) == target(created["entry"][1])


async def test_entries_run_in_the_specified_order_and_answer_in_the_order_sent(client):
    await client.put("/fhir/Patient/keep", json=with_mrn("K", id="keep"))
    await client.put("/fhir/Patient/gone", json=with_mrn("G", id="gone"))
    body = await send(client, bundle(
        get("Patient/keep"),
        put(with_mrn("K", id="keep", active=False), "Patient/keep"),
        delete("Patient/gone"),
        post(with_mrn("NEW")),
    ))
    statuses = [e["response"]["status"] for e in body["entry"]]
    assert statuses == ["200 OK", "200 OK", "204 No Content", "201 Created"]
    read = body["entry"][0]
    assert read["resource"]["active"] is False and read["response"]["etag"] == 'W/"2"'  # GETs run last
    assert (await client.get("/fhir/Patient/gone")).status_code == 410


async def test_conditional_create_update_delete_and_patch(client):
    existing = (await client.post("/fhir/Patient", json=with_mrn("C1"))).json()
    await client.post("/fhir/Patient", json=with_mrn("DEL"))
    await client.post("/fhir/Patient", json=with_mrn("DEL"))
    ops = [{"op": "replace", "path": "/active", "value": False}]
    patch_entry = {"resource": {"resourceType": "Binary", "contentType": "application/json-patch+json",
                                "data": base64.b64encode(json.dumps(ops).encode()).decode()},
                   "request": {"method": "PATCH", "url": f"Patient?identifier={MRN}|C1"}}
    body = await send(client, bundle(
        post(with_mrn("C1"), ifNoneExist=f"identifier={MRN}|C1"),
        put(with_mrn("U1"), f"Patient?identifier={MRN}|U1"),
        delete(f"Patient?identifier={MRN}|DEL"),
        patch_entry,
    ), headers={"prefer": "return=OperationOutcome"})
    statuses = [e["response"]["status"] for e in body["entry"]]
    assert statuses == ["200 OK", "201 Created", "204 No Content", "200 OK"]
    assert target(body["entry"][0]) == f"Patient/{existing['id']}"
    assert "deleted 2" in body["entry"][2]["response"]["outcome"]["issue"][0]["diagnostics"]
    patched = (await client.get(f"/fhir/Patient/{existing['id']}")).json()
    assert patched["active"] is False and patched["meta"]["versionId"] == "2"
    updated = await send(client, bundle(put(with_mrn("U1", active=False), f"Patient?identifier={MRN}|U1")))
    assert updated["entry"][0]["response"]["status"] == "200 OK"
    assert updated["entry"][0]["response"]["etag"] == 'W/"2"'
    gone = (await client.get("/fhir/Patient", params={"identifier": f"{MRN}|DEL"})).json()
    assert gone.get("entry", []) == []


async def test_if_match_per_entry(client):
    await client.put("/fhir/Patient/m1", json=with_mrn("M", id="m1"))
    before = await versions(client)
    body = await send(client, bundle(post(with_mrn("X")), put(with_mrn("M", id="m1", active=False), "Patient/m1",
                                                              ifMatch='W/"7"')), status=412)
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["expression"] == ["Bundle.entry[1]"]
    assert "Bundle.entry[1]" in body["issue"][0]["diagnostics"]
    assert await versions(client) == before  # the POST before it was rolled back
    ok = await send(client, bundle(put(with_mrn("M", id="m1", active=False), "Patient/m1", ifMatch='W/"1"')))
    assert ok["entry"][0]["response"]["etag"] == 'W/"2"'


async def test_reads_with_conditions_vread_and_search(client):
    await client.put("/fhir/Patient/r1", json=with_mrn("R", id="r1"))
    await client.put("/fhir/Patient/r1", json=with_mrn("R", id="r1", active=False))
    body = await send(client, bundle(
        get("Patient/r1", ifNoneMatch='W/"2"'),
        get("Patient/r1", ifNoneMatch='W/"1"'),
        get("Patient/r1", ifModifiedSince="2100-01-01T00:00:00Z"),
        get("Patient/r1/_history/1"),
        get(f"Patient?identifier={MRN}|R"),
        {"request": {"method": "HEAD", "url": "Patient/r1"}},
    ))
    entries = body["entry"]
    assert [e["response"]["status"] for e in entries] == ["304 Not Modified", "200 OK", "304 Not Modified",
                                                          "200 OK", "200 OK", "200 OK"]
    assert "resource" not in entries[0] and entries[1]["resource"]["active"] is False
    assert entries[3]["resource"]["meta"]["versionId"] == "1"
    assert entries[4]["resource"]["type"] == "searchset"
    assert [e["resource"]["id"] for e in entries[4]["resource"]["entry"]] == ["r1"]
    assert "resource" not in entries[5] and entries[5]["response"]["etag"] == 'W/"2"'


async def test_conditional_references(client):
    one = (await client.post("/fhir/Patient", json=with_mrn("CR1"))).json()
    body = await send(client, bundle(post(observation(subject={"reference": f"Patient?identifier={MRN}|CR1"}))))
    stored = (await client.get(f"/fhir/{target(body['entry'][0])}")).json()
    assert stored["subject"]["reference"] == f"Patient/{one['id']}"
    before = await versions(client)
    none = await send(client, bundle(post(with_mrn("OTHER")),
                                     post(observation(subject={"reference": f"Patient?identifier={MRN}|nobody"}))),
                      status=412)
    assert none["issue"][0]["expression"][0].startswith("Bundle.entry[1]")
    assert "matched no Patient" in none["issue"][0]["diagnostics"]
    await client.post("/fhir/Patient", json=with_mrn("CR1"))
    several = await send(client, bundle(post(observation(subject={"reference": f"Patient?identifier={MRN}|CR1"}))),
                         status=412)
    assert "matched 2" in several["issue"][0]["diagnostics"]
    unknown = await send(client, bundle(post(observation(subject={"reference": "Patient?nonsense=1"}))), status=400)
    assert unknown["issue"][0]["expression"][0].startswith("Bundle.entry[0]")
    assert await versions(client) == before + 1  # only the lone create after the failures


async def test_prefer_return(client):
    minimal = await send(client, bundle(post(with_mrn("PR1"))), headers={"prefer": "return=minimal"})
    entry = minimal["entry"][0]
    assert "resource" not in entry and "outcome" not in entry["response"]
    assert entry["response"]["location"].startswith("Patient/")
    outcome = await send(client, bundle(post(with_mrn("PR2"))), headers={"prefer": "return=OperationOutcome"})
    assert outcome["entry"][0]["response"]["outcome"]["issue"][0]["severity"] == "information"
    representation = await send(client, bundle(post(with_mrn("PR3"))))
    assert representation["entry"][0]["resource"]["identifier"][0]["value"] == "PR3"


async def test_written_resources_are_versioned_and_encrypted(client):
    body = await send(client, bundle(post(with_mrn("ENC", name=[{"family": "Zyxwvutsrq"}]), P1),
                                     post(observation(subject={"reference": P1}))))
    pid = target(body["entry"][0]).split("/")[1]
    history = (await client.get(f"/fhir/Patient/{pid}/_history")).json()
    assert [e["response"]["status"] for e in history["entry"]] == ["201 Created"]
    runtime = client._transport.app.state.runtime
    async with runtime.engine.connect() as conn:
        bodies = [row[0] for row in await conn.execute(select(resources.c.body).where(resources.c.res_id == pid))]
        bodies += [row[0] for row in await conn.execute(
            select(resource_versions.c.body).where(resource_versions.c.res_id == pid))]
    assert len(bodies) == 2 and all(b"Zyxwvutsrq" not in bytes(b) for b in bodies)


async def test_each_resource_is_written_once(client):
    await client.put("/fhir/Patient/twice", json=with_mrn("TW", id="twice"))
    body = await send(client, bundle(put(with_mrn("TW", id="twice"), "Patient/twice"), delete("Patient/twice")),
                      status=400)
    assert "Patient/twice is also written by Bundle.entry[1]" in body["issue"][0]["diagnostics"]


async def test_a_reference_to_an_unknown_urn_fails(client):
    body = await send(client, bundle(post(observation(subject={"reference": "urn:uuid:0000-missing"}))), status=400)
    assert "urn:uuid:0000-missing" in body["issue"][0]["diagnostics"]
    assert await versions(client) == 0
