"""ValueSet/$validate-code and CodeSystem/$validate-code."""

from __future__ import annotations

import pytest

from fhir_server.errors import BadRequest, NotFound
from terminology import TerminologyStore, code_system_validate_code, value_set_validate_code
from tests.terminology.conftest import ACT_CODE, GENDER, GENDER_VS, LOINC, SNOMED, params

MITIGATION_VS = "http://hl7.org/fhir/ValueSet/detectedissue-mitigation-action"  # ActCode is-a filter


def test_code_in_value_set(store: TerminologyStore) -> None:
    got = params(value_set_validate_code(store, url=GENDER_VS, system=GENDER, code="female"))
    assert got == {"result": True, "display": "Female"}


def test_code_not_in_value_set(store: TerminologyStore) -> None:
    got = params(value_set_validate_code(store, url=MITIGATION_VS, system=ACT_CODE, code="CC"))
    assert got["result"] is False
    assert "not in the value set" in got["message"] and got["display"] == "credit card"


def test_unknown_code_of_a_known_system(store: TerminologyStore) -> None:
    got = params(value_set_validate_code(store, url=GENDER_VS, system=GENDER, code="mal"))
    assert got["result"] is False and "Unknown code 'mal'" in got["message"]


def test_is_a_filter_membership(store: TerminologyStore) -> None:
    # EMAUTH is a descendant of _ActDetectedIssueManagementCode, the value set's is-a root
    got = params(value_set_validate_code(store, url=MITIGATION_VS, coding={"system": ACT_CODE, "code": "EMAUTH"}))
    assert got["result"] is True


def test_display_is_checked(store: TerminologyStore) -> None:
    ok = params(value_set_validate_code(store, url=GENDER_VS, system=GENDER, code="male", display="  MALE "))
    assert ok["result"] is True
    wrong = params(value_set_validate_code(store, url=GENDER_VS, system=GENDER, code="male", display="Man"))
    assert wrong["result"] is False and "should be 'Male'" in wrong["message"]
    designation = params(code_system_validate_code(store, url=SNOMED, code="14669001", display="Acute kidney injury"))
    assert designation["result"] is True


def test_abstract_codes(store: TerminologyStore) -> None:
    vs = "http://terminology.hl7.org/ValueSet/v3-ActCode"
    refused = params(value_set_validate_code(store, url=vs, system=ACT_CODE, code="_ActAccountCode"))
    assert refused["result"] is False and "abstract" in refused["message"]
    allowed = params(value_set_validate_code(store, url=vs, system=ACT_CODE, code="_ActAccountCode", abstract=True))
    assert allowed["result"] is True


def test_codeable_concept_one_valid_coding_is_enough(store: TerminologyStore) -> None:
    concept = {"coding": [{"system": "http://example.org/local", "code": "X"}, {"system": GENDER, "code": "male"}]}
    got = params(value_set_validate_code(store, url=GENDER_VS, codeable_concept=concept))
    assert got["result"] is True and got["display"] == "Male"
    bad = {"coding": [{"system": "http://example.org/local", "code": "X"}]}
    got = params(value_set_validate_code(store, url=GENDER_VS, codeable_concept=bad))
    assert got["result"] is False and "not known" in got["message"]


def test_inline_value_set_and_inactive_codes(store: TerminologyStore) -> None:
    value_set = {"resourceType": "ValueSet", "url": "http://example.org/vs/elig", "status": "active",
                 "compose": {"include": [{"system": ACT_CODE, "concept": [{"code": "ELG"}, {"code": "CC"}]}]}}
    got = params(value_set_validate_code(store, value_set=value_set, system=ACT_CODE, code="ELG"))
    assert got["result"] is True and "inactive" in got["message"]


def test_code_system_validate_code(store: TerminologyStore) -> None:
    assert params(code_system_validate_code(store, url=LOINC, code="718-7"))["result"] is True
    got = params(code_system_validate_code(store, url=LOINC, code="1-8"))
    assert got["result"] is False and "fragment" in got["message"]
    got = params(code_system_validate_code(store, coding={"system": "http://hl7.org/fhir/sid/icd-10", "code": "e11.9"}))
    assert got == {"result": True, "display": "Type 2 diabetes mellitus without complications"}
    inline = {"resourceType": "CodeSystem", "url": "http://example.org/cs", "content": "complete",
              "concept": [{"code": "a", "display": "A"}]}
    assert params(code_system_validate_code(store, code_system=inline, code="a"))["result"] is True


def test_errors(store: TerminologyStore) -> None:
    with pytest.raises(NotFound, match="ValueSet"):
        value_set_validate_code(store, url="http://example.org/no-vs", system=GENDER, code="male")
    with pytest.raises(NotFound, match="CodeSystem 'http://example.org/unknown'"):
        value_set_validate_code(store, url=GENDER_VS, system="http://example.org/unknown", code="male")
    with pytest.raises(NotFound):
        code_system_validate_code(store, url="http://example.org/unknown", code="x")
    with pytest.raises(BadRequest, match="one of url and valueSet"):
        value_set_validate_code(store, system=GENDER, code="male")
    with pytest.raises(BadRequest, match="system"):
        value_set_validate_code(store, url=GENDER_VS, code="male")
    with pytest.raises(BadRequest):
        value_set_validate_code(store, url=GENDER_VS)
    with pytest.raises(BadRequest, match="conflicts"):
        value_set_validate_code(store, url=GENDER_VS, system=LOINC, coding={"system": GENDER, "code": "male"})
