"""Every claim of the CapabilityStatement holds against the running server
(https://hl7.org/fhir/R4/capabilitystatement.html): each search parameter of each type is accepted
with a value of its type, and each operation has its OperationDefinition served and answers where
the statement says it is available."""

from __future__ import annotations

from typing import Any

from resources.definitions import search_parameters
from resources.fhir_json import dumps
from tests.resources.r4_instances import InstanceBuilder

FHIR_JSON = {"content-type": "application/fhir+json"}
# a well-formed value for each search parameter type (https://hl7.org/fhir/R4/search.html#ptypes)
SAMPLE_VALUES = {
    "string": "abc",
    "token": "http://example.org/codes|x",
    "date": "ge2020-01-01",
    "reference": "x",
    "uri": "http://example.org/x",
    "number": "5",
    "quantity": "5.4|http://unitsofmeasure.org|mg",
}
SPECIAL_VALUES = {"_list": "x", "near": "42.25|-83.69|10|km"}
# composite components take their values without a prefix
COMPONENT_VALUES = {**SAMPLE_VALUES, "date": "2020-01-01"}
def sample_value(param: dict[str, Any], by_url: dict[str, dict[str, Any]]) -> str:
    if param["type"] == "composite":
        definition = by_url[param["definition"]]
        return "$".join(COMPONENT_VALUES[by_url[c["definition"]]["type"]] for c in definition["component"])
    if param["type"] == "special":
        return SPECIAL_VALUES[param["name"]]
    return SAMPLE_VALUES[param["type"]]


async def test_every_claimed_search_parameter_is_accepted(client):
    statement = (await client.get("/fhir/metadata")).json()
    by_url = {p["url"]: p for p in search_parameters()}
    refused, tried = {}, 0
    for resource in statement["rest"][0]["resource"]:
        for param in resource.get("searchParam", ()):
            value = sample_value(param, by_url)
            response = await client.get(f"/fhir/{resource['type']}", params={param["name"]: value})
            tried += 1
            if response.status_code != 200:
                issue = response.json()["issue"][0]
                refused[f"{resource['type']}?{param['name']}={value}"] = issue.get("diagnostics")
    assert tried > 2500
    assert refused == {}


def claimed_operations(statement: dict[str, Any]) -> list[tuple[str, str | None, str]]:
    """(name, resource type or None for the system level, definition canonical) of every claim."""
    rest = statement["rest"][0]
    claims = [(op["name"], None, op["definition"]) for op in rest.get("operation", ())]
    for resource in rest["resource"]:
        claims += [(op["name"], resource["type"], op["definition"]) for op in resource.get("operation", ())]
    return claims


async def test_every_claimed_operation_definition_is_served(client):
    statement = (await client.get("/fhir/metadata")).json()
    for name, _, canonical in claimed_operations(statement):
        definition_id = canonical.rsplit("/", 1)[1]
        response = await client.get(f"/fhir/OperationDefinition/{definition_id}")
        assert response.status_code == 200, (canonical, response.text)
        definition = response.json()
        assert definition["resourceType"] == "OperationDefinition"
        assert (definition["url"], definition["code"]) == (canonical, name)


async def _instance(client, res_type: str, created: dict[str, str]) -> str:
    """The id of a stored instance of `res_type` with only its required elements."""
    if res_type not in created:
        body = InstanceBuilder(max_depth=0).resource(res_type)
        response = await client.post(f"/fhir/{res_type}", content=dumps(body), headers=FHIR_JSON)
        assert response.status_code == 201, response.text
        created[res_type] = response.json()["id"]
    return created[res_type]


async def test_every_claimed_operation_answers_at_its_level(client):
    statement = (await client.get("/fhir/metadata")).json()
    created: dict[str, str] = {}
    missing = {}
    for name, res_type, canonical in claimed_operations(statement):
        definition = (await client.get(f"/fhir/OperationDefinition/{canonical.rsplit('/', 1)[1]}")).json()
        method = "POST" if definition.get("affectsState") else "GET"
        paths = []
        if res_type is None:
            paths.append(f"/fhir/${name}")
        else:
            if definition.get("type"):
                paths.append(f"/fhir/{res_type}/${name}")
            if definition.get("instance"):
                paths.append(f"/fhir/{res_type}/{await _instance(client, res_type, created)}/${name}")
        for path in paths:
            if method == "POST":
                response = await client.post(path, json={"resourceType": "Parameters"}, headers=FHIR_JSON)
            else:
                response = await client.get(path)
            if response.status_code in (404, 405):
                missing[f"{method} {path}"] = response.text[:300]
    assert missing == {}


async def test_stored_operation_definitions_are_still_read_from_storage(client):
    mine = {"resourceType": "OperationDefinition", "name": "Mine", "status": "draft", "kind": "operation",
            "code": "mine", "system": True, "type": False, "instance": False}
    created = await client.post("/fhir/OperationDefinition", json=mine, headers=FHIR_JSON)
    assert created.status_code == 201
    read = await client.get(f"/fhir/OperationDefinition/{created.json()['id']}")
    assert read.status_code == 200 and read.json()["code"] == "mine"
    assert (await client.get("/fhir/OperationDefinition/no-such-definition")).status_code == 404
