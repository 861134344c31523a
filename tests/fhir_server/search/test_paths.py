"""The fast path must select exactly what fhirpathpy selects, for every official expression part."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fhir_server.search import SearchRegistry
from fhir_server.search.expressions import _fhirpath_function, compile_expression, rewrite_for_fhirpathpy
from fhir_server.search.paths import Typed, compile_path, selection
from fhir_server.search.registry import split_union
from resources.fhir_json import loads
from tests.fhir_server.search import samples

CONDITION = loads("""{"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"},
  "code": {"coding": [{"system": "http://snomed.info/sct", "code": "44054006"}]},
  "onsetPeriod": {"start": "2019-01-01"}, "abatementString": "in remission",
  "evidence": [{"detail": [{"reference": "Observation/o2"}]}]}""")
QUESTIONNAIRE = loads("""{"resourceType": "Questionnaire", "id": "q", "status": "active", "url": "http://x/q",
  "item": [{"linkId": "1", "type": "group", "code": [{"code": "a"}], "item": [{"linkId": "1.1", "type": "string",
  "code": [{"code": "b"}]}]}]}""")
RESOURCES = [samples.ANN, samples.BOB, samples.CHLOE, samples.VISIT, samples.STAY, samples.WEIGHT_ANN,
             samples.HBA1C_ANN, samples.SMOKING_CHLOE, samples.WEIGHT_GROUP, samples.ABOUT_GONE, samples.RISK_ANN,
             CONDITION, QUESTIONNAIRE, samples.HOUSE, samples.HOSPITAL]


def canonical(values: list[Typed]) -> list[str]:
    return sorted(json.dumps([value, kind], default=str, sort_keys=True) for value, kind in values)


def parts(registry: SearchRegistry, resource: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (code, part)
        for code, param in registry.params_for(resource["resourceType"]).items()
        if param.expression and param.type not in ("composite", "special")
        for part in split_union(param.expression)
    ]


@pytest.mark.parametrize("resource", RESOURCES, ids=lambda r: f"{r['resourceType']}/{r['id']}")
def test_fast_path_agrees_with_fhirpathpy(registry: SearchRegistry, resource: dict[str, Any]) -> None:
    compared = 0
    for code, part in parts(registry, resource):
        fast = compile_path(resource["resourceType"], part)
        if fast is None:
            continue
        slow = _fhirpath_function(part, resource["resourceType"])
        assert slow is not None
        assert canonical(fast(resource)) == canonical(slow(resource)), (code, part)
        compared += 1
    assert compared > 5


def test_almost_every_official_expression_takes_the_fast_path(registry: SearchRegistry) -> None:
    slow = [
        (resource_type, part)
        for resource_type in sorted(registry.resource_types)
        for param in registry.params_for(resource_type).values()
        if param.expression and param.type not in ("composite", "special")
        for part in split_union(param.expression)
        if compile_path(resource_type, part) is None and compile_path(resource_type, f"{resource_type}.{part}") is None
    ]
    assert len(slow) <= 5, slow


def test_choice_expansion_and_casts() -> None:
    value = compile_path("Observation", "Observation.value")
    assert value is not None and value(samples.WEIGHT_ANN) == [(samples.WEIGHT_ANN["valueQuantity"], "Quantity")]
    as_string = compile_path("Observation", "(Observation.value as string)")
    assert as_string is not None and as_string(samples.WEIGHT_ANN) == []
    text = compile_path("Observation", "(Observation.value as CodeableConcept).text")
    assert text is not None and text(samples.SMOKING_CHLOE) == [("Former smoker", "string")]
    onset = compile_path("Condition", "Condition.onset.as(Period)")
    assert onset is not None and onset(CONDITION) == [({"start": "2019-01-01"}, "Period")]
    nested = compile_path("Questionnaire", "Questionnaire.item.item.code")
    assert nested is not None and nested(QUESTIONNAIRE) == [({"code": "b"}, "Coding")]


def test_filters() -> None:
    email = compile_path("Patient", "Patient.telecom.where(system='email')")
    assert email is not None and [value["value"] for value, _ in email(samples.ANN)] == ["ann@example.org"]
    patient = compile_path("Observation", "Observation.subject.where(resolve() is Patient)")
    assert patient is not None and len(patient(samples.WEIGHT_ANN)) == 1 and patient(samples.WEIGHT_GROUP) == []
    absolute = {"resourceType": "Observation", "subject": {"reference": "http://other/fhir/Patient/9"}}
    assert len(patient(absolute)) == 1


@pytest.mark.parametrize("expression", [
    "Patient.name.given.first()", "Patient.nonexistent", "Observation.value.as(Quantity)",
    "Bundle.entry[0].resource", "Patient.name | Patient.alias", "(Patient.name", "Patient.name.where(use = %x)",
])
def test_compile_path_declines_what_it_cannot_walk(expression: str) -> None:
    assert compile_path("Patient", expression) is None


def test_rewrite_for_fhirpathpy() -> None:
    assert rewrite_for_fhirpathpy("(Observation.component.value as Quantity)") == (
        "(Observation.component.value.ofType(Quantity))")
    assert rewrite_for_fhirpathpy("Condition.onset.as(Age)") == "Condition.onset.ofType(Age)"
    rewritten = rewrite_for_fhirpathpy("Observation.subject.where(resolve() is Patient)")
    assert "resolve" not in rewritten
    fallback = _fhirpath_function("Observation.subject.where(resolve() is Patient).first()", "Observation")
    assert fallback is not None and len(fallback(samples.WEIGHT_ANN)) == 1 and fallback(samples.WEIGHT_GROUP) == []


def test_relative_expressions_and_broken_ones() -> None:
    relative = compile_expression("InsurancePlan", "name | alias")
    plan = {"resourceType": "InsurancePlan", "name": "Gold", "alias": ["G"]}
    assert relative is not None and [value for value, _ in relative(plan)] == ["Gold", "G"]
    assert compile_expression("Patient", "Patient.name.where(") is None


def test_selection_compares_what_expressions_read_not_how_they_are_written() -> None:
    """`selection` is how the registry tells a composite's component is a plain parameter's values."""
    quantity = selection("Observation", "(Observation.value as Quantity)")
    assert quantity == selection("Observation", "Observation.value.as(Quantity)")
    assert quantity == selection("Observation", "Observation.value.ofType(Quantity)")
    assert quantity is not None and quantity[1] == frozenset({"Quantity"})
    assert quantity != selection("Observation", "(Observation.value as CodeableConcept)")
    assert selection("Observation", "Observation.value")[1] >= {"Quantity", "string", "SampledData"}  # type: ignore[index]
    patient = selection("Observation", "Observation.subject.where(resolve() is Patient)")
    assert patient is not None and patient != selection("Observation", "Observation.subject")
    for other in ("Observation.value.as(DateTime)", "Patient.name", "Observation.code.exists()"):
        assert selection("Observation", other) is None, other
