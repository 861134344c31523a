"""Conditional create, update, patch and delete (https://hl7.org/fhir/R4/http.html#cond-update)."""

from __future__ import annotations

from tests.fhir_server.api.samples import patient

FHIR_JSON = {"content-type": "application/fhir+json"}
MRN = "http://hospital.example.org/mrn"


def with_mrn(value: str, **changes):
    return patient(identifier=[{"system": MRN, "value": value}], **changes)


async def test_conditional_create(client):
    headers = {**FHIR_JSON, "if-none-exist": f"identifier={MRN}|A1"}
    first = await client.post("/fhir/Patient", json=with_mrn("A1"), headers=headers)
    assert first.status_code == 201
    second = await client.post("/fhir/Patient", json=with_mrn("A1"), headers=headers)
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    await client.post("/fhir/Patient", json=with_mrn("A1"), headers=FHIR_JSON)  # a duplicate, made without the check
    third = await client.post("/fhir/Patient", json=with_mrn("A1"), headers=headers)
    assert third.status_code == 412
    bad = await client.post("/fhir/Patient", json=with_mrn("A1"), headers={**FHIR_JSON, "if-none-exist": "nonsense=1"})
    assert bad.status_code == 400


async def test_conditional_update(client):
    url = f"/fhir/Patient?identifier={MRN}|B2"
    created = await client.put(url, json=with_mrn("B2"), headers=FHIR_JSON)
    assert created.status_code == 201
    pid = created.json()["id"]
    updated = await client.put(url, json=with_mrn("B2", active=False), headers=FHIR_JSON)
    assert updated.status_code == 200
    assert updated.json()["id"] == pid and updated.json()["meta"]["versionId"] == "2"
    wrong_id = await client.put(url, json=with_mrn("B2", id="someone-else"), headers=FHIR_JSON)
    assert wrong_id.status_code == 400
    await client.post("/fhir/Patient", json=with_mrn("B2"), headers=FHIR_JSON)
    ambiguous = await client.put(url, json=with_mrn("B2"), headers=FHIR_JSON)
    assert ambiguous.status_code == 412
    with_id = await client.put(f"/fhir/Patient?identifier={MRN}|C3", json=with_mrn("C3", id="c3"), headers=FHIR_JSON)
    assert with_id.status_code == 201 and with_id.json()["id"] == "c3"


async def test_conditional_patch(client):
    await client.post("/fhir/Patient", json=with_mrn("P1"), headers=FHIR_JSON)
    ops = [{"op": "replace", "path": "/active", "value": False}]
    headers = {"content-type": "application/json-patch+json"}
    patched = await client.patch(f"/fhir/Patient?identifier={MRN}|P1", json=ops, headers=headers)
    assert patched.status_code == 200 and patched.json()["active"] is False
    missing = await client.patch(f"/fhir/Patient?identifier={MRN}|nobody", json=ops, headers=headers)
    assert missing.status_code == 404


async def test_conditional_delete_single_and_multiple(client):
    one = (await client.post("/fhir/Patient", json=with_mrn("D1"), headers=FHIR_JSON)).json()
    response = await client.delete(f"/fhir/Patient?identifier={MRN}|D1")
    assert response.status_code == 204
    assert (await client.get(f"/fhir/Patient/{one['id']}")).status_code == 410
    twins = [(await client.post("/fhir/Patient", json=with_mrn("D2"), headers=FHIR_JSON)).json() for _ in range(2)]
    response = await client.delete(f"/fhir/Patient?identifier={MRN}|D2", headers={"prefer": "return=OperationOutcome"})
    assert response.status_code == 200
    assert "deleted 2" in response.json()["issue"][0]["diagnostics"]
    for twin in twins:
        assert (await client.get(f"/fhir/Patient/{twin['id']}")).status_code == 410
    nothing = await client.delete(f"/fhir/Patient?identifier={MRN}|none")
    assert nothing.status_code == 204
    no_criteria = await client.delete("/fhir/Patient")
    assert no_criteria.status_code == 400
