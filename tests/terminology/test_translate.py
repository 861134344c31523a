"""ConceptMap/$translate with the spec's v2 and v3 maps."""

from __future__ import annotations

import pytest

from fhir_server.errors import BadRequest, NotFound
from terminology import TerminologyStore, translate
from tests.terminology.conftest import GENDER, GENDER_VS, V2_SEX, params

GENDER_V2_MAP = "http://hl7.org/fhir/ConceptMap/cm-administrative-gender-v2"


def _matches(out: dict) -> list[tuple[str, str, str]]:
    found = params(out).get("match", [])
    found = found if isinstance(found, list) else [found]
    return [(m["equivalence"], m["concept"]["system"], m["concept"]["code"]) for m in found]


def test_v2_table_0001_to_fhir_administrative_gender(store: TerminologyStore) -> None:
    out = translate(store, system=V2_SEX, code="F", target=GENDER_VS, reverse=True)
    assert params(out)["result"] is True
    assert _matches(out) == [("equal", GENDER, "female")]
    match = params(out)["match"]
    assert match["concept"]["display"] == "Female" and match["source"] == GENDER_V2_MAP


def test_reverse_turns_equivalence_round(store: TerminologyStore) -> None:
    out = translate(store, url=GENDER_V2_MAP, coding={"system": V2_SEX, "code": "A"}, reverse=True)
    assert _matches(out) == [("narrower", GENDER, "other")]  # FHIR other -> v2 A is `wider`


def test_fhir_to_v2(store: TerminologyStore) -> None:
    out = translate(store, system=GENDER, code="male", targetsystem=V2_SEX)
    assert _matches(out) == [("equal", V2_SEX, "M")]
    out = translate(store, system=GENDER, code="other", targetsystem=V2_SEX)
    assert _matches(out) == [("wider", V2_SEX, "A"), ("wider", V2_SEX, "O")]


def test_codeable_concept_and_no_match(store: TerminologyStore) -> None:
    out = translate(store, codeable_concept={"coding": [{"system": "http://example.org/x", "code": "1"},
                                                        {"system": GENDER, "code": "unknown"}]},
                    targetsystem=V2_SEX)
    assert _matches(out) == [("equal", V2_SEX, "U")]
    out = translate(store, system=GENDER, code="nonsense", targetsystem=V2_SEX)
    got = params(out)
    assert got["result"] is False and "No mapping" in got["message"]


def test_unmapped_fixed_and_disjoint(store: TerminologyStore) -> None:
    url = "http://hl7.org/fhir/ConceptMap/101"
    out = translate(store, url=url, system="http://hl7.org/fhir/address-use", code="old")
    assert params(out)["result"] is False  # disjoint only
    out = translate(store, url=url, system="http://hl7.org/fhir/address-use", code="billing")
    assert _matches(out) == [("equivalent", "http://terminology.hl7.org/CodeSystem/v3-AddressUse", "temp")]


def test_user_concept_map_takes_part(fresh_store: TerminologyStore) -> None:
    fresh_store.add({"resourceType": "ConceptMap", "url": "http://example.org/cm/lab", "status": "active",
                     "group": [{"source": "http://example.org/lab-codes", "target": "http://loinc.org",
                                "element": [{"code": "CREA", "target": [{"code": "2160-0", "equivalence": "equivalent"}]}]}]})
    out = translate(fresh_store, system="http://example.org/lab-codes", code="CREA")
    assert params(out)["match"]["concept"] == {"system": "http://loinc.org", "code": "2160-0",
                                               "display": "Creatinine [Mass/volume] in Serum or Plasma"}


def test_errors(store: TerminologyStore) -> None:
    with pytest.raises(NotFound):
        translate(store, url="http://example.org/no-map", system=GENDER, code="male")
    with pytest.raises(BadRequest):
        translate(store, url=GENDER_V2_MAP)
    with pytest.raises(BadRequest):
        translate(store, url=GENDER_V2_MAP, concept_map={"resourceType": "ConceptMap"}, system=GENDER, code="male")
