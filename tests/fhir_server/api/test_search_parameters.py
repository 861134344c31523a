"""Custom SearchParameter resources: searchable once written, existing resources reindexed by the
background job, forgotten when deleted; $reindex by hand; other processes notice."""

from __future__ import annotations

from typing import Any

import orjson

from fhir_server.bootstrap import start_runtime
from fhir_server.context import DEV_PRINCIPAL, RequestContext
from fhir_server.services import SearchRequest

EYE_COLOUR = "http://example.org/fhir/StructureDefinition/eye-colour"
SEARCH_PARAMETER = {
    "resourceType": "SearchParameter", "id": "eye-colour", "url": "http://example.org/fhir/SearchParameter/eye-colour",
    "name": "EyeColour", "status": "active", "description": "The colour of the patient's eyes", "code": "eye-colour",
    "base": ["Patient"], "type": "token", "expression": f"Patient.extension.where(url='{EYE_COLOUR}').value",
}


def patient(pid: str, colour: str) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": pid, "name": [{"family": pid}],
            "extension": [{"url": EYE_COLOUR, "valueCode": colour}]}


async def put(client: Any, resource: dict[str, Any]) -> None:
    response = await client.put(f"/fhir/{resource['resourceType']}/{resource['id']}", json=resource)
    assert response.status_code in (200, 201), response.text


async def found(client: Any, **params: str) -> tuple[int, set[str]]:
    response = await client.get("/fhir/Patient", params=params)
    if response.status_code != 200:
        return response.status_code, set()
    return 200, {entry["resource"]["id"] for entry in response.json().get("entry", [])}


async def run_jobs(client: Any) -> int:
    runtime = client._transport.app.state.runtime
    return await runtime.worker(slots=1).run_until_idle()


async def test_a_custom_parameter_is_served_and_existing_resources_are_reindexed(client: Any) -> None:
    for pid, colour in (("a", "blue"), ("b", "brown"), ("c", "blue")):
        await put(client, patient(pid, colour))
    assert (await found(client, **{"eye-colour": "blue"}))[0] == 400
    await put(client, SEARCH_PARAMETER)
    await put(client, patient("d", "blue"))  # written after the definition: indexed at once
    assert await found(client, **{"eye-colour": "blue"}) == (200, {"d"})
    assert await run_jobs(client) >= 1
    assert await found(client, **{"eye-colour": "blue"}) == (200, {"a", "c", "d"})
    assert await found(client, **{"eye-colour:not": "blue"}) == (200, {"b"})
    metadata_free = await client.get("/fhir/Patient", params={"eye-colour": "brown", "_sort": "eye-colour"})
    assert metadata_free.status_code == 200
    # retiring the parameter stops it being served
    await put(client, {**SEARCH_PARAMETER, "status": "retired"})
    assert (await found(client, **{"eye-colour": "blue"}))[0] == 400
    await put(client, SEARCH_PARAMETER)
    assert (await client.delete("/fhir/SearchParameter/eye-colour")).status_code == 204
    assert (await found(client, **{"eye-colour": "blue"}))[0] == 400
    assert await found(client, name="a") == (200, {"a"})


async def test_a_custom_parameter_may_replace_an_official_one_until_deleted(client: Any) -> None:
    await put(client, {**patient("a", "blue"), "gender": "female"})
    override = {**SEARCH_PARAMETER, "id": "gender-by-eyes", "url": "http://example.org/fhir/SearchParameter/g",
                "code": "gender"}
    await put(client, override)
    await run_jobs(client)
    assert await found(client, gender="blue") == (200, {"a"})
    assert (await client.delete("/fhir/SearchParameter/gender-by-eyes")).status_code == 204
    await run_jobs(client)
    assert await found(client, gender="female") == (200, {"a"})


async def test_unusable_definitions_are_refused(client: Any) -> None:
    response = await client.put("/fhir/SearchParameter/bad", json={
        **SEARCH_PARAMETER, "id": "bad", "base": ["Patient"], "code": "", "expression": "Patient.name"})
    assert response.status_code in (400, 422) and response.json()["resourceType"] == "OperationOutcome"


async def test_reindex_by_hand(client: Any) -> None:
    await put(client, patient("a", "green"))
    response = await client.post("/fhir/Patient/$reindex")
    assert response.status_code == 202 and "job" in response.text
    assert (await client.post("/fhir/$reindex")).status_code == 202
    assert await run_jobs(client) >= 2
    assert await found(client, name="a") == (200, {"a"})
    assert (await client.post("/fhir/Nope/$reindex")).status_code == 404


async def test_another_process_notices_a_new_parameter(client: Any, settings: Any) -> None:
    other = await start_runtime(settings)  # a second server process on the same database
    try:
        other.services.search.parameters.check_seconds = 0
        await put(client, patient("a", "grey"))
        await put(client, SEARCH_PARAMETER)
        await run_jobs(client)
        ctx = RequestContext(principal=DEV_PRINCIPAL, base_url="http://other/fhir")
        body = await other.services.search.search(ctx, SearchRequest("Patient", [("eye-colour", "grey")]))
        assert b'"id":"a"' in body
    finally:
        await other.close()


async def test_the_capability_statement_lists_stored_custom_parameters_at_start(client: Any, settings: Any) -> None:
    await put(client, SEARCH_PARAMETER)
    runtime = await start_runtime(settings)  # a new process on the same database
    try:
        statement = orjson.loads(runtime.services.capability_statement)
    finally:
        await runtime.close()
    patient_params = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Patient")["searchParam"]
    served = {p["name"]: p for p in patient_params}
    assert served["eye-colour"]["type"] == "token"
    assert served["eye-colour"]["definition"] == SEARCH_PARAMETER["url"]
