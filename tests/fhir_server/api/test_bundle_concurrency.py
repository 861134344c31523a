"""Transactions under concurrency, with real concurrent requests: conditional creates never duplicate,
and nothing half-written is ever visible to a concurrent reader."""

from __future__ import annotations

import asyncio

from tests.fhir_server.api.samples import observation, patient

MRN = "http://hospital.example.org/mrn"
FHIR_JSON = {"content-type": "application/fhir+json"}


def runtime_of(client):
    return client._transport.app.state.runtime


def admission(n: int, mrn: str = "RACE") -> dict:
    urn = f"urn:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca4{n:02d}"
    return {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": urn, "resource": patient(identifier=[{"system": MRN, "value": mrn}]),
         "request": {"method": "POST", "url": "Patient", "ifNoneExist": f"identifier={MRN}|{mrn}"}},
        {"resource": observation(subject={"reference": urn}), "request": {"method": "POST", "url": "Observation"}},
    ]}


async def total(client, query: str) -> int:
    response = await client.get(f"/fhir/{query}", params={"_summary": "count"})
    assert response.status_code == 200, response.text
    return response.json()["total"]


async def test_concurrent_transactions_conditionally_creating_one_patient_make_one(client):
    responses = await asyncio.gather(*[client.post("/fhir", json=admission(n), headers=FHIR_JSON)
                                       for n in range(8)])
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses if r.status_code != 200]
    statuses = sorted(r.json()["entry"][0]["response"]["status"] for r in responses)
    assert statuses == ["200 OK"] * 7 + ["201 Created"]
    patients = {r.json()["entry"][0]["response"]["location"].split("/_history")[0] for r in responses}
    assert len(patients) == 1
    assert await total(client, f"Patient?identifier={MRN}|RACE") == 1
    subjects = {r.json()["entry"][1]["resource"]["subject"]["reference"] for r in responses}
    assert subjects == patients
    assert await total(client, "Observation") == 8


async def test_a_transaction_is_invisible_to_readers_until_it_commits(client):
    service = runtime_of(client).services.resources
    seen_inside: list[object] = []

    async def look_from_outside(tx, change):
        if change.res_type == "Patient":
            # another connection, while the transaction that wrote this row is still open
            seen_inside.append(await service.store.read_current(change.res_type, change.res_id))

    service.subscribe(look_from_outside)
    response = await client.post("/fhir", json=admission(1, "ISO"), headers=FHIR_JSON)
    assert response.status_code == 200
    assert seen_inside == [None]
    pid = response.json()["entry"][0]["response"]["location"].split("/_history")[0]
    assert (await client.get(f"/fhir/{pid}")).status_code == 200


async def test_concurrent_readers_see_all_of_a_transaction_or_none(client):
    size = 120
    big = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": observation(), "request": {"method": "POST", "url": "Observation"}} for _ in range(size)]}
    failing = {**big, "entry": [*big["entry"], {"request": {"method": "GET", "url": "Patient/never-there"}}]}
    seen: set[int] = set()
    done = asyncio.Event()

    async def poll() -> None:
        while not done.is_set():
            seen.add(await total(client, "Observation"))
            await asyncio.sleep(0)

    async def write() -> None:
        try:
            # the failing one writes every Observation, then fails on its read: all rolled back
            assert (await client.post("/fhir", json=failing, headers=FHIR_JSON)).status_code == 404
            assert (await client.post("/fhir", json=big, headers=FHIR_JSON)).status_code == 200
        finally:
            done.set()

    await asyncio.gather(poll(), poll(), write())
    seen.add(await total(client, "Observation"))
    assert seen <= {0, size} and size in seen
