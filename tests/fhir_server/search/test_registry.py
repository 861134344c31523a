from __future__ import annotations

import pytest

from fhir_server.errors import BadRequest
from fhir_server.search import SearchRegistry
from fhir_server.search.registry import expression_root, split_union


def test_official_definitions_cover_the_resource_types(registry: SearchRegistry) -> None:
    assert len(registry.resource_types) == 146
    name = registry.get("Patient", "name")
    assert name is not None and name.type == "string" and name.expression == "Patient.name"


def test_shared_definition_keeps_only_the_parts_for_each_type(registry: SearchRegistry) -> None:
    family = registry.get("Practitioner", "family")
    assert family is not None and family.expression == "Practitioner.name.family"
    code = registry.get("Observation", "code")
    assert code is not None and code.expression == "Observation.code"
    medication = registry.get("MedicationRequest", "code")
    assert medication is not None and medication.expression == "(MedicationRequest.medication as CodeableConcept)"


def test_resource_parameters_apply_to_every_type(registry: SearchRegistry) -> None:
    for resource_type in ("Patient", "Bundle", "Observation"):
        for code in ("_id", "_lastUpdated", "_tag", "_profile", "_security", "_source"):
            assert registry.get(resource_type, code) is not None, (resource_type, code)
    tag = registry.get("Patient", "_tag")
    assert tag is not None and tag.expression == "Patient.meta.tag"
    assert registry.get("Patient", "_id").on_resource_table  # type: ignore[union-attr]
    # _text is a DomainResource parameter: Bundle has none
    assert registry.get("Bundle", "_text") is None and registry.get("Patient", "_text") is not None


def test_reference_targets_and_composite_components(registry: SearchRegistry) -> None:
    subject = registry.get("Observation", "subject")
    assert subject is not None and "Patient" in subject.targets
    composite = registry.get("Observation", "code-value-quantity")
    assert composite is not None and composite.type == "composite"
    assert [c.expression for c in composite.components] == ["code", "value.as(Quantity)"]


def test_register_custom_parameter_and_unregister() -> None:
    registry = SearchRegistry.from_definitions([])
    generation = registry.generation
    added = registry.register({
        "url": "http://example.org/SearchParameter/patient-race", "code": "race", "type": "token",
        "base": ["Patient", "Person"],
        "expression": "Patient.extension.where(url='http://example.org/race').value",
    })
    assert [param.resource_type for param in added] == ["Patient"]  # no part applies to Person
    assert registry.get("Patient", "race") is not None and registry.generation > generation
    registry.unregister("http://example.org/SearchParameter/patient-race")
    assert registry.get("Patient", "race") is None


def test_register_relative_expression_applies_to_each_base() -> None:
    registry = SearchRegistry.from_definitions([])
    registry.register({"url": "u", "code": "nick", "type": "string", "base": ["Patient", "Person"],
                       "expression": "name.given"})
    assert registry.get("Person", "nick") is not None and registry.get("Patient", "nick") is not None


@pytest.mark.parametrize("definition", [
    {"code": "x", "type": "token"},
    {"code": "x", "type": "bogus", "base": ["Patient"]},
    {"code": "x", "type": "token", "base": ["Patientt"]},
])
def test_register_refuses_malformed_definitions(definition: dict[str, object]) -> None:
    with pytest.raises(BadRequest):
        SearchRegistry().register(definition)


def test_split_union_respects_parentheses_and_quotes() -> None:
    assert split_union("A.b | (C.d as E) | F.where(x='a|b')") == ["A.b", "(C.d as E)", "F.where(x='a|b')"]
    assert expression_root("(Observation.value as Quantity)") == "Observation"
