"""ValueSet/$expand: includes, excludes, filters, imports, paging, text filter and the size limit."""

from __future__ import annotations

import pytest

from fhir_server.errors import BadRequest, NotFound, Unprocessable
from terminology import TerminologyStore, expand
from tests.terminology.conftest import ACT_CODE, GENDER, GENDER_VS, LOINC, SNOMED

EX = "http://example.org/fhir"


def _codes(result: dict) -> list[str]:
    return [c["code"] for c in result["expansion"].get("contains", [])]


def _vs(url: str, *include: dict, exclude: tuple = ()) -> dict:
    compose: dict = {"include": list(include)}
    if exclude:
        compose["exclude"] = list(exclude)
    return {"resourceType": "ValueSet", "url": url, "status": "active", "compose": compose}


def test_whole_code_system(store: TerminologyStore) -> None:
    result = expand(store, url=GENDER_VS)
    assert result["url"] == GENDER_VS and result["expansion"]["total"] == 4
    assert _codes(result) == ["male", "female", "other", "unknown"]
    assert result["expansion"]["contains"][0] == {"system": GENDER, "version": "4.0.1", "code": "male",
                                                  "display": "Male"}


def test_paging_with_count_and_offset(store: TerminologyStore) -> None:
    everything = _codes(expand(store, url="http://terminology.hl7.org/ValueSet/v3-ActCode"))
    assert len(everything) == 1116
    page = expand(store, url="http://terminology.hl7.org/ValueSet/v3-ActCode", offset=10, count=5)
    assert page["expansion"]["total"] == 1116 and page["expansion"]["offset"] == 10
    assert _codes(page) == everything[10:15]
    assert "contains" not in expand(store, url=GENDER_VS, count=0)["expansion"]
    assert _codes(expand(store, url=GENDER_VS, offset=3, count=10)) == ["unknown"]


def test_text_filter(store: TerminologyStore) -> None:
    result = expand(store, url="http://loinc.org/vs", filter="creatinine serum")
    codes = _codes(result)
    assert "2160-0" in codes and "14682-9" in codes and "2161-8" not in codes  # 2161-8 is urine
    assert all("creatinine" in c["display"].lower() for c in result["expansion"]["contains"])


def test_is_a_descendent_of_is_not_a_generalizes(store: TerminologyStore) -> None:
    root = "_ActAccountCode"
    is_a = _codes(expand(store, value_set=_vs(f"{EX}/a", {"system": ACT_CODE, "filter": [
        {"property": "concept", "op": "is-a", "value": root}]})))
    assert set(is_a) == {root, "ACCTRECEIVABLE", "CASH", "CC", "AE", "DN", "DV", "MC", "V", "PBILLACCT"}
    below = _codes(expand(store, value_set=_vs(f"{EX}/b", {"system": ACT_CODE, "filter": [
        {"property": "concept", "op": "descendent-of", "value": root}]})))
    assert set(below) == set(is_a) - {root}
    up = _codes(expand(store, value_set=_vs(f"{EX}/c", {"system": ACT_CODE, "filter": [
        {"property": "concept", "op": "generalizes", "value": "AE"}]})))
    assert set(up) == {"AE", "CC", root}
    not_a = _codes(expand(store, value_set=_vs(f"{EX}/d", {"system": SNOMED, "filter": [
        {"property": "concept", "op": "is-not-a", "value": "90708001"}]})))
    assert "44054006" in not_a and "709044004" not in not_a and "90708001" not in not_a


def test_property_filters_on_loinc(store: TerminologyStore) -> None:
    def run(*filters: dict) -> list[str]:
        return _codes(expand(store, value_set=_vs(f"{EX}/l", {"system": LOINC, "filter": list(filters)})))
    urine_qn = run({"property": "SYSTEM", "op": "=", "value": "Urine"}, {"property": "SCALE_TYP", "op": "=", "value": "Qn"})
    assert "2161-8" in urine_qn and "5802-4" not in urine_qn  # nitrite is ordinal
    assert set(run({"property": "COMPONENT", "op": "in", "value": "Sodium,Potassium"})) == {
        "2951-2", "2947-0", "2823-3", "6298-4", "2955-3", "2828-2"}
    assert set(run({"property": "code", "op": "regex", "value": r"2160-\d"})) == {"2160-0"}
    with_method = run({"property": "METHOD_TYP", "op": "exists", "value": "true"})
    without = run({"property": "METHOD_TYP", "op": "exists", "value": "false"})
    assert "41653-7" in with_method and "2160-0" in without and not set(with_method) & set(without)
    assert "2345-7" not in run({"property": "COMPONENT", "op": "not-in", "value": "Glucose"})


def test_concept_lists_excludes_and_imports(store: TerminologyStore) -> None:
    vs = _vs(f"{EX}/mixed",
             {"system": GENDER},
             {"system": SNOMED, "concept": [{"code": "44054006"}, {"code": "714628002", "display": "Prediabetes"}]},
             exclude=({"system": GENDER, "concept": [{"code": "other"}]},))
    codes = _codes(expand(store, value_set=vs))
    assert codes == ["male", "female", "unknown", "44054006", "714628002"]
    intersect = _vs(f"{EX}/import", {"valueSet": [GENDER_VS, "http://hl7.org/fhir/ValueSet/administrative-gender"]})
    assert _codes(expand(store, value_set=intersect)) == ["male", "female", "other", "unknown"]


def test_nested_imports_of_user_value_sets(fresh_store: TerminologyStore) -> None:
    fresh_store.add(_vs(f"{EX}/ckd", {"system": SNOMED, "filter": [{"property": "concept", "op": "is-a", "value": "709044004"}]}))
    fresh_store.add(_vs(f"{EX}/kidney-outcomes", {"valueSet": [f"{EX}/ckd"]},
                        {"system": SNOMED, "concept": [{"code": "14669001"}]}))
    fresh_store.add(_vs(f"{EX}/outer", {"valueSet": [f"{EX}/kidney-outcomes"]}))
    codes = _codes(expand(fresh_store, url=f"{EX}/outer"))
    assert "14669001" in codes and "433144002" in codes and "46177005" in codes and "44054006" not in codes


def test_circular_import_is_refused(fresh_store: TerminologyStore) -> None:
    fresh_store.add(_vs(f"{EX}/x", {"valueSet": [f"{EX}/y"]}))
    fresh_store.add(_vs(f"{EX}/y", {"valueSet": [f"{EX}/x"]}))
    with pytest.raises(BadRequest, match="imports itself"):
        expand(fresh_store, url=f"{EX}/x")


def test_active_only_and_designations(store: TerminologyStore) -> None:
    url = "http://terminology.hl7.org/ValueSet/v3-ActCode"
    all_codes = expand(store, url=url)["expansion"]["total"]
    active = expand(store, url=url, active_only=True)
    assert active["expansion"]["total"] < all_codes
    assert not any(c.get("inactive") for c in active["expansion"].get("contains", []))
    plain = expand(store, url="http://snomed.info/sct?fhir_vs=isa/271737000")
    assert set(_codes(plain)) == {"271737000", "87522002", "707323002"}
    assert "designation" not in plain["expansion"]["contains"][0]
    rich = expand(store, url="http://snomed.info/sct?fhir_vs=isa/271737000", include_designations=True)
    assert any(d["value"] == "Anaemia" for d in rich["expansion"]["contains"][0]["designation"])


def test_fragment_expansions_say_so(store: TerminologyStore) -> None:
    result = expand(store, url="http://snomed.info/sct?fhir_vs=isa/44054006")
    warnings = [p["valueString"] for p in result["expansion"]["parameter"] if p["name"] == "warning"]
    assert len(warnings) == 1 and SNOMED in warnings[0]
    listed = expand(store, value_set=_vs(f"{EX}/listed", {"system": SNOMED, "concept": [{"code": "44054006"}]}))
    assert not [p for p in listed["expansion"]["parameter"] if p["name"] == "warning"]


def test_exclude_system(store: TerminologyStore) -> None:
    vs = _vs(f"{EX}/two", {"system": GENDER}, {"system": SNOMED, "concept": [{"code": "44054006"}]})
    assert _codes(expand(store, value_set=vs, exclude_system=[GENDER])) == ["44054006"]


def test_too_costly(fresh_store: TerminologyStore) -> None:
    fresh_store.expansion_limit = 100
    with pytest.raises(Unprocessable) as caught:
        expand(fresh_store, url="http://terminology.hl7.org/ValueSet/v3-ActCode")
    assert caught.value.code == "too-costly" and "100" in caught.value.diagnostics
    assert expand(fresh_store, url=GENDER_VS)["expansion"]["total"] == 4


def test_errors(store: TerminologyStore) -> None:
    with pytest.raises(NotFound):
        expand(store, url="http://example.org/nothing")
    with pytest.raises(NotFound, match="http://example.org/cs"):
        expand(store, value_set=_vs(f"{EX}/u", {"system": "http://example.org/cs"}))
    with pytest.raises(NotFound, match="by name only"):
        expand(store, value_set=_vs(f"{EX}/s", {"system": "http://hl7.org/fhir/CodeSystem/summary"}))
    with pytest.raises(BadRequest):
        expand(store)
    with pytest.raises(BadRequest):
        expand(store, url=GENDER_VS, count=-1)
    with pytest.raises(BadRequest, match="property, an op and a value"):
        expand(store, value_set=_vs(f"{EX}/g", {"system": GENDER, "filter": [{"property": "concept", "op": "is-a"}]}))
    with pytest.raises(BadRequest, match="needs a code"):
        expand(store, value_set=_vs(f"{EX}/h", {"system": GENDER, "concept": [{"display": "x"}]}))
    with pytest.raises(BadRequest, match="not supported"):
        expand(store, value_set=_vs(f"{EX}/f", {"system": GENDER, "filter": [{"property": "x", "op": "~", "value": "y"}]}))
