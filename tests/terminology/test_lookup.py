"""CodeSystem/$lookup."""

from __future__ import annotations

import pytest

from fhir_server.errors import BadRequest, NotFound
from terminology import TerminologyStore, lookup
from tests.terminology.conftest import ACT_CODE, LOINC, SNOMED, params, properties


def test_loinc_lab_code_with_parts(store: TerminologyStore) -> None:
    out = lookup(store, system=LOINC, code="2160-0")
    got = params(out)
    assert got["name"] == "LOINC"
    assert got["display"] == "Creatinine [Mass/volume] in Serum or Plasma"
    assert properties(out, "COMPONENT") == ["Creatinine"]
    assert properties(out, "SYSTEM") == ["Ser/Plas"]
    assert properties(out, "EXAMPLE_UCUM_UNITS") == ["mg/dL"]


def test_hierarchy_as_parent_and_child_properties(store: TerminologyStore) -> None:
    out = lookup(store, system=ACT_CODE, code="CC")
    got = params(out)
    assert got["display"] == "credit card" and got["version"] == "2018-08-12"
    assert "definition" in got
    assert properties(out, "parent") == ["_ActAccountCode"]
    assert set(properties(out, "child")) == {"AE", "DN", "DV", "MC", "V"}


def test_v3_concept_with_two_parents(store: TerminologyStore) -> None:
    # CONT is nested under one parent and listed as the `child` of another
    parents = properties(lookup(store, system=ACT_CODE, code="CONT", property=["parent"]), "parent")
    assert set(parents) == {"_ActAdjudicationGroupCode", "_ActInvoiceAdjudicationPaymentSummaryCode"}


def test_property_selects_outputs(store: TerminologyStore) -> None:
    out = lookup(store, system=LOINC, code="2160-0", property=["SCALE_TYP"])
    names = [p["name"] for p in out["parameter"]]
    assert names == ["name", "display", "property"]
    assert properties(out, "SCALE_TYP") == ["Qn"]


def test_coding_and_designations(store: TerminologyStore) -> None:
    out = lookup(store, coding={"system": SNOMED, "code": "14669001"})
    got = params(out)
    assert got["display"] == "Acute renal failure syndrome"
    values = [d["value"] for d in got["designation"]]
    assert "Acute kidney injury" in values and "Acute renal failure syndrome (disorder)" in values
    assert properties(out, "parent") == ["42399005"]


def test_display_language_picks_a_designation(store: TerminologyStore) -> None:
    system = "http://hl7.org/fhir/animal-genderstatus"
    assert params(lookup(store, system=system, code="neutered"))["display"] == "Neutered"
    assert params(lookup(store, system=system, code="neutered", display_language="nl"))["display"] == "gesteriliseerd"
    assert params(lookup(store, system=system, code="neutered", display_language="nl-BE"))["display"] == "gesteriliseerd"
    assert params(lookup(store, system=system, code="neutered", display_language="de"))["display"] == "Neutered"


def test_unknown_system_is_not_found(store: TerminologyStore) -> None:
    with pytest.raises(NotFound) as caught:
        lookup(store, system="http://example.org/nowhere", code="x")
    assert "http://example.org/nowhere" in caught.value.diagnostics
    assert caught.value.outcome()["issue"][0]["code"] == "not-found"


def test_unknown_code_and_version(store: TerminologyStore) -> None:
    with pytest.raises(NotFound, match="Unknown code"):
        lookup(store, system=LOINC, code="99999-9")
    with pytest.raises(NotFound, match="version '1.0'"):
        lookup(store, system=ACT_CODE, code="CC", version="1.0")


def test_missing_and_conflicting_parameters(store: TerminologyStore) -> None:
    with pytest.raises(BadRequest):
        lookup(store)
    with pytest.raises(BadRequest, match="system"):
        lookup(store, code="2160-0")
    with pytest.raises(BadRequest, match="not code and coding"):
        lookup(store, system=LOINC, code="2160-0", coding={"system": LOINC, "code": "718-7"})
