"""Operation parameters in (Parameters resource or query pairs) and the operation registry."""

from __future__ import annotations

import pytest

from fhir_server.errors import BadRequest
from terminology import OPERATIONS, TerminologyStore, arguments, operation_definitions
from terminology.parameters import python_name
from tests.terminology.conftest import GENDER, GENDER_VS, LOINC, V2_SEX, params


def _definition(definition_id: str) -> dict:
    return next(d for d in operation_definitions() if d["id"] == definition_id)


def test_python_names() -> None:
    assert python_name("displayLanguage") == "display_language"
    assert python_name("codingA") == "coding_a"
    assert python_name("exclude-system") == "exclude_system"
    assert python_name("targetsystem") == "targetsystem"


def test_query_pairs_are_typed() -> None:
    kwargs = arguments(_definition("ValueSet-expand"), [
        ("url", GENDER_VS), ("count", "10"), ("activeOnly", "true"), ("designation", "nl"), ("designation", "de"),
        ("_format", "json")])
    assert kwargs == {"url": GENDER_VS, "count": 10, "active_only": True, "designation": ["nl", "de"]}
    assert arguments(_definition("CodeSystem-lookup"), [("coding", f"{LOINC}|2160-0")]) == {
        "coding": {"system": LOINC, "code": "2160-0"}}


def test_parameters_resource() -> None:
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "url", "valueUri": GENDER_VS},
        {"name": "codeableConcept", "valueCodeableConcept": {"coding": [{"system": GENDER, "code": "male"}]}},
    ]}
    kwargs = arguments(_definition("ValueSet-validate-code"), body)
    assert kwargs == {"url": GENDER_VS, "codeable_concept": {"coding": [{"system": GENDER, "code": "male"}]}}


@pytest.mark.parametrize("pairs", [
    [("nonsense", "1")],
    [("count", "ten")],
    [("activeOnly", "yes")],
    [("url", "a"), ("url", "b")],
    [("valueSet", "{}")],
])
def test_bad_parameters(pairs: list[tuple[str, str]]) -> None:
    with pytest.raises(BadRequest):
        arguments(_definition("ValueSet-expand"), pairs)


def test_bad_bodies() -> None:
    with pytest.raises(BadRequest):
        arguments(_definition("ValueSet-expand"), {"resourceType": "Bundle"})
    with pytest.raises(BadRequest):
        arguments(_definition("ValueSet-expand"), {"resourceType": "Parameters", "parameter": [
            {"name": "valueSet", "resource": {"resourceType": "CodeSystem"}}]})
    with pytest.raises(BadRequest):
        arguments(_definition("ValueSet-expand"), {"resourceType": "Parameters", "parameter": [
            {"name": "count", "valueString": "3"}]})


def test_registry_invokes_operations(store: TerminologyStore) -> None:
    assert set(OPERATIONS) == {("CodeSystem", "lookup"), ("CodeSystem", "validate-code"), ("CodeSystem", "subsumes"),
                               ("ValueSet", "expand"), ("ValueSet", "validate-code"), ("ConceptMap", "translate")}
    out = OPERATIONS[("ConceptMap", "translate")].invoke(store, [
        ("system", V2_SEX), ("code", "M"), ("reverse", "true"), ("target", GENDER_VS)])
    assert params(out)["match"]["concept"]["code"] == "male"
    result = OPERATIONS[("ValueSet", "expand")].invoke(store, {"resourceType": "Parameters", "parameter": [
        {"name": "url", "valueUri": GENDER_VS}, {"name": "count", "valueInteger": 1}]})
    assert result["expansion"]["total"] == 4 and len(result["expansion"]["contains"]) == 1
