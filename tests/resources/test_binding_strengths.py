"""Extensible and preferred bindings (`binding-strengths.json.gz`): warnings when asked for, never
errors, in resource elements, backbone elements, inherited elements and data types."""

from __future__ import annotations

from typing import Any

from resources import validate
from resources.structure import structures

V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"


def _warnings(resource: dict[str, Any]) -> list[tuple[str, str]]:
    return [(issue.expression, issue.diagnostics) for issue in validate(resource, warnings=True)
            if issue.severity == "warning"]


def test_the_strengths_are_compiled_into_the_element_trees() -> None:
    nodes = structures().nodes
    category = nodes["Observation"].children["category"].binding
    assert category is not None and category.strength == "preferred"
    assert category.url == "http://hl7.org/fhir/ValueSet/observation-category"
    identifier_type = nodes["Identifier"].children["type"].binding
    assert identifier_type is not None and identifier_type.strength == "extensible" and (V2_0203, "MR") in identifier_type.pairs
    status = nodes["Observation"].children["status"].binding
    assert status is not None and status.strength == "required"


def test_codes_outside_give_warnings_only_when_asked() -> None:
    patient = {"resourceType": "Patient", "language": "tlh",
               "maritalStatus": {"coding": [{"system": "http://example.org/status", "code": "x"}]},
               "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "tlh"}]}}]}
    assert validate(patient) == []
    assert _warnings(patient) == [
        ("Patient.language", "'tlh' is not in the preferred value set http://hl7.org/fhir/ValueSet/languages"),
        ("Patient.maritalStatus", "no code from the extensible value set http://hl7.org/fhir/ValueSet/marital-status"),
        ("Patient.communication[0].language",
         "no code from the preferred value set http://hl7.org/fhir/ValueSet/languages"),
    ]


def test_text_alone_and_one_matching_coding_are_fine() -> None:
    patient = {"resourceType": "Patient", "language": "en",
               "maritalStatus": {"text": "partnered"},
               "identifier": [{"type": {"coding": [{"system": "http://example.org/t", "code": "local"},
                                                   {"system": V2_0203, "code": "MR"}]}, "value": "1"}]}
    assert _warnings(patient) == []


def test_warnings_do_not_hide_errors_or_the_model_layer() -> None:
    issues = validate({"resourceType": "Patient", "gender": "nope", "language": "tlh"}, warnings=True)
    assert sorted((issue.severity, issue.expression) for issue in issues) == [
        ("error", "Patient.gender"), ("warning", "Patient.language")]


def test_binding_checks_can_be_left_out_for_measuring_their_cost() -> None:
    patient = {"resourceType": "Patient", "gender": "nope", "language": "tlh",
               "maritalStatus": {"coding": [{"system": "http://example.org/x", "code": "y"}]}}
    assert validate(patient, warnings=True, bindings=False) == []
    assert validate({"resourceType": "Patient", "gender": 7}, bindings=False)[0].expression == "Patient.gender"
