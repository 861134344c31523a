"""`GET /metadata?mode=terminology`: the TerminologyCapabilities of what the terminology store holds
(https://hl7.org/fhir/R4/terminologycapabilities.html)."""

from __future__ import annotations

from conformance import terminology_capabilities
from resources import validate
from terminology import OPERATIONS, TerminologyStore

FHIR_JSON = {"content-type": "application/fhir+json"}
LOCAL = "http://example.org/fhir/CodeSystem/colours"


def colours(version: str, *codes: str) -> dict:
    return {"resourceType": "CodeSystem", "url": LOCAL, "version": version, "status": "active",
            "content": "complete", "property": [{"code": "hue", "type": "string"}],
            "concept": [{"code": code} for code in codes]}


def by_uri(statement: dict) -> dict[str, dict]:
    return {entry["uri"]: entry for entry in statement["codeSystem"]}


def test_every_code_system_and_version_held_is_listed():
    store = TerminologyStore()
    store.add_all([colours("1", "red"), colours("2", "red", "blue")])
    statement = terminology_capabilities(store, software_name="fhir-server", software_version="1.0")
    assert validate(statement) == []
    entry = by_uri(statement)[LOCAL]
    assert [(v["code"], v["isDefault"]) for v in entry["version"]] == [("1", False), ("2", True)]
    assert {"code": "hue", "op": ["=", "exists", "in", "not-in", "regex"]} in entry["version"][1]["filter"]
    assert entry["version"][1]["property"] == ["hue"]
    assert entry["subsumption"] is True
    assert len(statement["codeSystem"]) == len(store.code_systems())
    assert "http://loinc.org" in by_uri(statement)


def test_expansion_validate_code_translation_and_closure():
    statement = terminology_capabilities(TerminologyStore(), software_name="fhir-server", software_version="1.0")
    expand_inputs = {p["name"] for p in OPERATIONS[("ValueSet", "expand")].definition()["parameter"]
                     if p["use"] == "in"}
    parameters = {p["name"] for p in statement["expansion"]["parameter"]}
    assert {"filter", "count", "offset", "activeOnly", "displayLanguage"} <= parameters <= expand_inputs
    assert statement["expansion"]["paging"] is True
    assert statement["validateCode"] == {"translations": False}
    assert statement["translation"] == {"needsMap": False}
    assert statement["closure"] == {"translation": False}


async def test_metadata_in_terminology_mode(client):
    response = await client.get("/fhir/metadata", params={"mode": "terminology"})
    assert response.status_code == 200
    statement = response.json()
    assert statement["resourceType"] == "TerminologyCapabilities"
    assert LOCAL not in by_uri(statement)
    created = await client.post("/fhir/CodeSystem", json=colours("3", "green"), headers=FHIR_JSON)
    assert created.status_code == 201
    statement = (await client.get("/fhir/metadata", params={"mode": "terminology"})).json()
    assert by_uri(statement)[LOCAL]["version"] == [
        {"code": "3", "isDefault": True, "compositional": False,
         "filter": [{"code": "concept", "op": ["=", "descendent-of", "exists", "generalizes", "in", "is-a",
                                               "is-not-a", "not-in", "regex"]},
                    {"code": "hue", "op": ["=", "exists", "in", "not-in", "regex"]}],
         "property": ["hue"]}]
    full = (await client.get("/fhir/metadata", params={"mode": "full"})).json()
    assert full["resourceType"] == "CapabilityStatement"
