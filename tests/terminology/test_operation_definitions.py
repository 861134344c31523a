"""The OperationDefinitions served for the six terminology operations."""

from __future__ import annotations

from terminology import OPERATIONS, operation_definitions


def test_six_definitions_based_on_the_official_ones() -> None:
    definitions = operation_definitions()
    assert [d["id"] for d in definitions] == [
        "CodeSystem-lookup", "ValueSet-validate-code", "CodeSystem-validate-code", "CodeSystem-subsumes",
        "ValueSet-expand", "ConceptMap-translate"]
    for definition in definitions:
        assert definition["resourceType"] == "OperationDefinition"
        assert definition["base"] == "http://hl7.org/fhir/OperationDefinition/" + definition["id"]
        assert definition["kind"] == "operation" and definition["status"] == "active"
        assert "url" not in definition
        assert any(p["use"] == "out" for p in definition["parameter"])


def test_only_supported_inputs_are_listed() -> None:
    expand = OPERATIONS[("ValueSet", "expand")].definition()
    names = {p["name"] for p in expand["parameter"] if p["use"] == "in"}
    assert {"url", "valueSet", "filter", "count", "offset", "activeOnly", "includeDesignations"} <= names
    assert "context" not in names and "force-system-version" not in names
    lookup = OPERATIONS[("CodeSystem", "lookup")].definition()
    outputs = {p["name"] for p in lookup["parameter"] if p["use"] == "out"}
    assert outputs == {"name", "version", "display", "definition", "designation", "property"}
    assert lookup["code"] == "lookup" and lookup["resource"] == ["CodeSystem"]


def test_server_url_and_independent_copies() -> None:
    first = operation_definitions("https://fhir.example.org/fhir/")
    assert first[0]["url"] == "https://fhir.example.org/fhir/OperationDefinition/CodeSystem-lookup"
    first[0]["parameter"].clear()
    assert operation_definitions()[0]["parameter"]
