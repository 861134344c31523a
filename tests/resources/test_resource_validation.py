"""resources.validate on hand-made R4 samples (modelled on the R4 specification's examples) and on broken copies."""

from __future__ import annotations

import copy
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from resources import ValidationIssue, validate
from resources.fhir_json import loads

SAMPLES = Path(__file__).parent / "samples"


def sample(name: str) -> dict[str, Any]:
    return loads((SAMPLES / f"{name}.json").read_bytes())


def issue_at(issues: list[ValidationIssue], expression: str, code: str) -> ValidationIssue:
    found = [i for i in issues if i.expression == expression and i.code == code]
    assert found, f"no {code} issue at {expression}; got {issues}"
    return found[0]


@pytest.mark.parametrize("name", sorted(p.stem for p in SAMPLES.glob("*.json")))
def test_valid_sample_passes_both_layers(name: str) -> None:
    resource = sample(name)
    assert validate(resource, with_models=False) == []
    assert validate(resource) == []


def test_observation_keeps_decimals_and_components() -> None:
    observation = sample("observation")
    assert observation["valueQuantity"]["value"] == Decimal("7.10")
    assert len(observation["component"]) == 2
    assert validate(observation) == []


def test_unknown_element_is_named() -> None:
    patient = sample("patient")
    patient["name"][0]["nickname"] = "Jim"
    issues = validate(patient)
    assert issue_at(issues, "Patient.name[0].nickname", "structure").severity == "error"


def test_unknown_resource_type() -> None:
    issue = issue_at(validate({"resourceType": "Patients"}), "Resource.resourceType", "not-supported")
    assert "Patients" in issue.diagnostics
    assert validate({"id": "x"})[0].code == "required"
    assert validate(["not", "an", "object"])[0].code == "structure"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("active", "true"),  # a string for a boolean
        ("active", 1),
        ("multipleBirthInteger", Decimal("1.0")),  # a Decimal for an integer
        ("multipleBirthInteger", True),
        ("multipleBirthInteger", 2**31),  # out of the 32-bit range
    ],
)
def test_wrong_primitive_type(field: str, value: Any) -> None:
    patient = sample("patient")
    patient.pop("deceasedBoolean")
    patient[field] = value
    issue_at(validate(patient), f"Patient.{field}", "value")


def test_float_looking_instant_is_refused() -> None:
    observation = sample("observation")
    observation["issued"] = Decimal("20130403.153010")
    issue = issue_at(validate(observation), "Observation.issued", "value")
    assert "JSON string" in issue.diagnostics


def test_decimal_accepts_integers_and_exponents() -> None:
    observation = sample("observation")
    observation["valueQuantity"]["value"] = 7
    assert validate(observation) == []
    observation["valueQuantity"]["value"] = Decimal("1.5e-3")
    assert validate(observation) == []
    observation["valueQuantity"]["value"] = "7.10"
    issue_at(validate(observation), "Observation.valueQuantity.value", "value")


@pytest.mark.parametrize(
    ("mutate", "expression"),
    [
        (lambda p: p.update(gender=""), "Patient.gender"),
        (lambda p: p["name"][0].update(given=[]), "Patient.name[0].given"),
        (lambda p: p.update(maritalStatus={}), "Patient.maritalStatus"),
        (lambda p: p.update(birthDate=None), "Patient.birthDate"),
        (lambda p: p["name"][0].update(given=["Peter", None]), "Patient.name[0].given[1]"),
    ],
    ids=["empty-string", "empty-array", "empty-object", "null", "null-in-array"],
)
def test_empty_and_null_values(mutate: Any, expression: str) -> None:
    patient = sample("patient")
    mutate(patient)
    issues = validate(patient)
    assert any(i.expression == expression for i in issues), issues


def test_null_in_array_allowed_when_paired_with_extension() -> None:
    patient = sample("patient")
    patient["name"][0]["given"] = ["Peter", None]
    patient["name"][0]["_given"] = [None, {"extension": [{"url": "http://example.org/x", "valueString": "J"}]}]
    assert validate(patient) == []
    patient["name"][0]["_given"] = [None, None]
    issue_at(validate(patient), "Patient.name[0]._given[1]", "structure")
    patient["name"][0]["_given"] = [None]
    issue_at(validate(patient), "Patient.name[0]._given", "structure")


@pytest.mark.parametrize("value", ["1974-13-25", "25/12/1974", "1974-02-30", "1974-12-25T10:00:00Z", "74"])
def test_bad_date(value: str) -> None:
    patient = sample("patient")
    patient["birthDate"] = value
    issue_at(validate(patient), "Patient.birthDate", "value")


@pytest.mark.parametrize("value", ["1974", "1974-12", "1974-12-25", "2000-02-29"])
def test_good_partial_dates(value: str) -> None:
    patient = sample("patient")
    patient["birthDate"] = value
    assert validate(patient) == []


def test_datetime_with_time_needs_a_zone() -> None:
    observation = sample("observation")
    observation.pop("effectivePeriod")
    observation["effectiveDateTime"] = "2013-04-02T09:30:10"
    issue_at(validate(observation), "Observation.effectiveDateTime", "value")


def test_array_for_single_element_and_single_for_array() -> None:
    patient = sample("patient")
    patient["gender"] = ["male"]
    patient["name"] = patient["name"][0]
    issues = validate(patient)
    issue_at(issues, "Patient.gender", "structure")
    issue_at(issues, "Patient.name", "structure")


@pytest.mark.parametrize("missing", ["code", "status"])
def test_missing_required_element(missing: str) -> None:
    observation = sample("observation")
    del observation[missing]
    issue = issue_at(validate(observation), f"Observation.{missing}", "required")
    assert missing in issue.diagnostics


def test_required_element_inside_backbone() -> None:
    observation = sample("observation")
    del observation["component"][1]["code"]
    issue_at(validate(observation), "Observation.component[1].code", "required")


def test_required_primitive_may_be_only_an_extension() -> None:
    observation = sample("observation")
    del observation["status"]
    observation["_status"] = {"extension": [{"url": "http://example.org/why", "valueString": "unknown"}]}
    assert not [i for i in validate(observation) if i.code == "required"]


def test_required_binding_on_code() -> None:
    observation = sample("observation")
    observation["status"] = "bogus"
    issue = issue_at(validate(observation), "Observation.status", "code-invalid")
    assert "observation-status" in issue.diagnostics
    patient = sample("patient")
    patient["gender"] = "unknown"
    assert validate(patient) == []
    patient["gender"] = "Male"
    issue_at(validate(patient), "Patient.gender", "code-invalid")


def test_required_binding_in_data_types_and_backbones() -> None:
    observation = sample("observation")
    observation["valueQuantity"]["comparator"] = "about"
    observation["component"][0]["valueQuantity"]["comparator"] = "<="
    issues = validate(observation)
    assert [i.expression for i in issues] == ["Observation.valueQuantity.comparator"]


def test_required_binding_on_coding() -> None:
    encounter = sample("encounter")  # Encounter.class is extensible: any code is fine
    encounter["class"]["code"] = "whatever"
    assert validate(encounter) == []
    message = {"resourceType": "MessageHeader", "eventCoding": {"system": "http://example.org/e", "code": "x"},
               "source": {"endpoint": "http://example.org"}}
    assert validate(message) == []


def test_extensible_and_example_bindings_are_not_errors() -> None:
    observation = sample("observation")
    observation["category"][0]["coding"][0]["code"] = "not-in-the-value-set"
    observation["interpretation"] = [{"text": "quite high"}]
    assert validate(observation) == []


def test_choice_type_misuse() -> None:
    observation = sample("observation")
    observation["valueFoo"] = 1
    issue_at(validate(observation), "Observation.valueFoo", "structure")
    observation = sample("observation")
    observation["valueString"] = "seven"
    issue = issue_at(validate(observation), "Observation.valueString", "structure")
    assert "value[x]" in issue.diagnostics
    observation = sample("observation")
    observation["valueDecimal"] = Decimal("7.1")  # decimal is not one of Observation.value[x]'s types
    issue_at(validate(observation), "Observation.valueDecimal", "structure")


def test_required_choice_element() -> None:
    flag = {"resourceType": "RiskAssessment", "status": "final", "subject": {"reference": "Patient/1"},
            "prediction": [{"probabilityDecimal": Decimal("0.1")}]}
    assert validate(flag) == []
    extension: dict[str, Any] = {"url": "http://example.org"}
    patient = {"resourceType": "Patient", "extension": [extension]}
    assert validate(patient) == []  # value[x] is optional on Extension (ext-1 is an invariant)
    extension["valueCode"] = "x"
    del extension["url"]
    issue_at(validate(patient), "Patient.extension[0].url", "required")


@pytest.mark.parametrize("bad_id", ["has space", "under_score", "x" * 65, "é"])
def test_bad_resource_id(bad_id: str) -> None:
    patient = sample("patient")
    patient["id"] = bad_id
    issue_at(validate(patient), "Patient.id", "value")


def test_good_resource_ids() -> None:
    patient = sample("patient")
    for good in ("a", "A-1.b", "x" * 64):
        patient["id"] = good
        assert validate(patient) == []


def test_element_ids_are_plain_strings_without_extensions() -> None:
    patient = sample("patient")
    patient["name"][0]["id"] = "any string with spaces"
    assert validate(patient) == []
    patient["name"][0]["_id"] = {"extension": [{"url": "http://example.org", "valueString": "x"}]}
    issue_at(validate(patient), "Patient.name[0]._id", "structure")


def test_birthdate_extension_right_and_wrong() -> None:
    patient = sample("patient")
    assert "_birthDate" in patient and validate(patient) == []
    del patient["birthDate"]
    assert validate(patient) == []  # an extension without a value
    wrong = copy.deepcopy(patient)
    wrong["_birthDate"] = [wrong["_birthDate"]]
    issue_at(validate(wrong), "Patient._birthDate", "structure")
    wrong = copy.deepcopy(patient)
    wrong["_birthDate"]["value"] = "1974-12-25"
    issue_at(validate(wrong), "Patient.birthDate.value", "structure")
    wrong = copy.deepcopy(patient)
    wrong["_birthDate"]["extension"][0]["valueDateTime"] = "yesterday"
    issue_at(validate(wrong), "Patient.birthDate.extension[0].valueDateTime", "value")
    wrong = copy.deepcopy(patient)
    wrong["_birthDate"] = {}
    issue_at(validate(wrong), "Patient.birthDate", "structure")
    wrong = copy.deepcopy(patient)
    wrong["_managingOrganization"] = {"id": "x"}  # not a primitive
    issue_at(validate(wrong), "Patient._managingOrganization", "structure")


def test_extension_array_must_align_with_values() -> None:
    patient = sample("patient")
    patient["name"][0]["_given"] = [{"id": "g1"}]
    issue = issue_at(validate(patient), "Patient.name[0]._given", "structure")
    assert "2" in issue.diagnostics


def test_contained_resource_errors() -> None:
    report = sample("diagnosticreport")
    report["contained"][0]["status"] = "done"
    report["contained"][1]["valueQuantity"]["value"] = "55"
    report["contained"].append({"id": "no-type"})
    report["contained"].append({"resourceType": "Observation", "id": "r3"})
    issues = validate(report)
    issue_at(issues, "DiagnosticReport.contained[0].status", "code-invalid")
    issue_at(issues, "DiagnosticReport.contained[1].valueQuantity.value", "value")
    issue_at(issues, "DiagnosticReport.contained[2]", "required")
    issue_at(issues, "DiagnosticReport.contained[3].code", "required")
    issue_at(issues, "DiagnosticReport.contained[3].status", "required")


def test_bundle_entries_are_validated_as_their_own_types() -> None:
    bundle = sample("bundle")
    bundle["entry"][0]["resource"]["gender"] = "M"
    bundle["entry"][2]["resource"]["parameter"][0]["resource"]["birthDate"] = "1.1.1970"
    bundle["entry"][1]["resource"]["resourceType"] = "Observations"
    issues = validate(bundle)
    issue_at(issues, "Bundle.entry[0].resource.gender", "code-invalid")
    issue_at(issues, "Bundle.entry[2].resource.parameter[0].resource.birthDate", "value")
    issue_at(issues, "Bundle.entry[1].resource.resourceType", "not-supported")


def test_nested_questionnaire_items_follow_the_content_reference() -> None:
    questionnaire = sample("questionnaire")
    nested = questionnaire["item"][1]["item"][2]["item"][1]
    nested["type"] = "number"
    nested["answer"] = "x"
    del questionnaire["item"][1]["item"][0]["linkId"]
    issues = validate(questionnaire)
    issue_at(issues, "Questionnaire.item[1].item[2].item[1].type", "code-invalid")
    issue_at(issues, "Questionnaire.item[1].item[2].item[1].answer", "structure")
    issue_at(issues, "Questionnaire.item[1].item[0].linkId", "required")


def test_cardinality_above_max() -> None:
    timing = {"resourceType": "Patient", "photo": [{"contentType": "image/png", "data": "QUJD"}]}
    assert validate(timing) == []
    questionnaire = sample("questionnaire")
    questionnaire["item"][0]["answerValueSet"] = ["http://a", "http://b"]
    issue_at(validate(questionnaire), "Questionnaire.item[0].answerValueSet", "structure")


def test_simple_quantity_refuses_a_comparator() -> None:
    medication = {"resourceType": "Medication", "amount": {"numerator": {"value": 1, "comparator": "<"},
                                                            "denominator": {"value": 2}}}
    assert validate(medication) == []  # Ratio.numerator is a full Quantity
    dispense = {"resourceType": "MedicationDispense", "status": "completed",
                "medicationCodeableConcept": {"text": "x"}, "quantity": {"value": 1, "comparator": "<"}}
    issue_at(validate(dispense), "MedicationDispense.quantity.comparator", "structure")


def test_narrative_must_be_an_xhtml_div() -> None:
    patient = sample("patient")
    patient["text"]["div"] = "<p>not a div</p>"
    issue_at(validate(patient), "Patient.text.div", "value")
    patient["text"]["div"] = '<div xmlns="http://www.w3.org/1999/xhtml"><p>unclosed</div>'
    issue_at(validate(patient), "Patient.text.div", "value")


def test_base64_and_uri_checks() -> None:
    report = sample("diagnosticreport")
    report["presentedForm"][0]["data"] = "not base64!"
    report["presentedForm"][0]["url"] = "has spaces in it"
    issues = validate(report)
    issue_at(issues, "DiagnosticReport.presentedForm[0].data", "value")
    issue_at(issues, "DiagnosticReport.presentedForm[0].url", "value")


def test_every_problem_is_listed() -> None:
    observation = sample("observation")
    observation["status"] = "bogus"
    observation["foo"] = 1
    del observation["code"]
    observation["component"][0]["valueQuantity"]["value"] = True
    assert len(validate(observation)) == 4


def test_the_walk_does_not_change_the_resource() -> None:
    bundle = sample("bundle")
    before = copy.deepcopy(bundle)
    validate(bundle)
    assert bundle == before


def test_absurd_nesting_is_refused_not_crashed() -> None:
    questionnaire: dict[str, Any] = {"resourceType": "Questionnaire", "status": "active"}
    level = questionnaire
    for depth in range(5000):
        item: dict[str, Any] = {"linkId": str(depth), "type": "group"}
        level["item"] = [item]
        level = item
    assert validate(questionnaire)[0].code == "too-costly"
