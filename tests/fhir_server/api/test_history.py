"""History at instance, type and system level, with _since, _at, _count and paging."""

from __future__ import annotations

import asyncio

from tests.fhir_server.api.samples import observation, patient

FHIR_JSON = {"content-type": "application/fhir+json"}


async def test_instance_history_newest_first(client):
    created = (await client.post("/fhir/Patient", json=patient(), headers=FHIR_JSON)).json()
    url = f"/fhir/Patient/{created['id']}"
    await client.put(url, json={**created, "active": False}, headers=FHIR_JSON)
    await client.delete(url)
    bundle = (await client.get(f"{url}/_history")).json()
    assert bundle["resourceType"] == "Bundle"
    assert bundle["type"] == "history"
    entries = bundle["entry"]
    assert [e["request"]["method"] for e in entries] == ["DELETE", "PUT", "POST"]
    assert [e["response"]["etag"] for e in entries] == ['W/"3"', 'W/"2"', 'W/"1"']
    assert "resource" not in entries[0]
    assert entries[1]["resource"]["active"] is False
    assert entries[2]["response"]["status"] == "201 Created"
    assert entries[0]["fullUrl"] == f"http://testserver{url}"
    assert entries[2]["request"]["url"] == "Patient"


async def test_history_of_unknown_instance_is_404(client):
    assert (await client.get("/fhir/Patient/nobody/_history")).status_code == 404


async def test_type_and_system_history(client):
    await client.post("/fhir/Patient", json=patient(), headers=FHIR_JSON)
    await client.post("/fhir/Observation", json=observation(), headers=FHIR_JSON)
    await client.post("/fhir/Patient", json=patient(), headers=FHIR_JSON)
    patients = (await client.get("/fhir/Patient/_history")).json()
    assert [e["resource"]["resourceType"] for e in patients["entry"]] == ["Patient", "Patient"]
    everything = (await client.get("/fhir/_history")).json()
    assert [e["resource"]["resourceType"] for e in everything["entry"]] == ["Patient", "Observation", "Patient"]


async def test_paging_walks_every_version_once(client):
    for _ in range(7):
        await client.post("/fhir/Patient", json=patient(), headers=FHIR_JSON)
    seen = []
    url = "/fhir/Patient/_history?_count=3"
    pages = 0
    while url:
        bundle = (await client.get(url)).json()
        pages += 1
        seen += [e["resource"]["id"] for e in bundle["entry"]]
        assert any(link["relation"] == "self" for link in bundle["link"])
        url = next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)
        if url:
            url = url.replace("http://testserver", "")
            # a write between pages must not shift what the next page holds
            await client.post("/fhir/Observation", json=observation(), headers=FHIR_JSON)
    assert pages == 3
    assert len(seen) == 7 and len(set(seen)) == 7


async def test_since_and_at(client):
    first = (await client.post("/fhir/Patient", json=patient(), headers=FHIR_JSON)).json()
    await asyncio.sleep(0.01)
    second = (await client.post("/fhir/Patient", json=patient(), headers=FHIR_JSON)).json()
    await asyncio.sleep(0.01)
    url = f"/fhir/Patient/{first['id']}"
    await client.put(url, json={**first, "active": False}, headers=FHIR_JSON)
    since = second["meta"]["lastUpdated"]
    recent = (await client.get("/fhir/Patient/_history", params={"_since": since})).json()
    assert [(e["resource"]["id"], e["resource"]["meta"]["versionId"]) for e in recent["entry"]] == [
        (first["id"], "2"), (second["id"], "1")]
    at_second = (await client.get("/fhir/Patient/_history", params={"_at": since})).json()
    # at that instant both patients existed, the first still at version 1
    assert sorted((e["resource"]["id"], e["resource"]["meta"]["versionId"]) for e in at_second["entry"]) == sorted(
        [(first["id"], "1"), (second["id"], "1")])
    none_yet = (await client.get("/fhir/Patient/_history", params={"_at": "2001"})).json()
    assert none_yet.get("entry", []) == []
