"""The rule registry, input selection and reading stored FHIR Observations."""

from datetime import datetime
from decimal import Decimal as D

import pytest

from ai_pipeline.rules import (
    RULES,
    Demographics,
    Finding,
    NotEvaluated,
    Observed,
    evaluate,
    observed_from_fhir,
)
from ai_pipeline.rules.inputs import Inputs
from resources.fhir_json import loads


def test_every_rule_declares_guideline_version_citation_and_inputs():
    assert len(RULES) == 9
    for rule_id, rule in RULES.items():
        spec = rule.spec
        assert spec.id == rule_id and spec.guideline and spec.version and spec.citation and spec.inputs


def test_no_data_gives_not_evaluated_for_every_rule():
    results = evaluate([], Demographics())
    assert all(isinstance(r, NotEvaluated) for r in results)
    assert all(r.message for r in results)


def test_unknown_rule_id():
    with pytest.raises(KeyError):
        evaluate([], Demographics(), rules=["no-such-rule"])


def test_latest_by_effective_time_and_evaluation_time():
    early = Observed("2823-3", D("6.8"), "mmol/L", effective=datetime(2024, 1, 1))
    late = Observed("2823-3", D("4.1"), "mmol/L", effective=datetime(2024, 2, 1))
    assert Inputs([late, early]).latest(["2823-3"]) is late
    assert Inputs([late, early], at=datetime(2024, 1, 15)).latest(["2823-3"]) is early
    (finding,) = evaluate([early, late], Demographics(), rules=["ukka-hyperkalaemia-2020"], at=datetime(2024, 1, 15))
    assert isinstance(finding, Finding) and finding.values["severity"] == "severe"


def test_observed_from_fhir_reads_quantities_components_and_codes():
    bp = loads(b'''{"resourceType": "Observation", "id": "bp", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
        "effectiveDateTime": "2024-05-14T08:30:00+01:00",
        "component": [
          {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
           "valueQuantity": {"value": 98, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}},
          {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
           "valueQuantity": {"value": 60, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}}]}''')
    found = observed_from_fhir(bp)
    assert [(o.loinc, o.value, o.unit, o.reference) for o in found] == [
        ("8480-6", 98, "mm[Hg]", "Observation/bp"), ("8462-4", 60, "mm[Hg]", "Observation/bp")]
    assert found[0].effective is not None and found[0].effective.utcoffset() is not None
    hb = loads(b'''{"resourceType": "Observation", "id": "hb", "status": "preliminary",
        "code": {"coding": [{"system": "http://loinc.org", "code": "718-7"}]},
        "valueQuantity": {"value": 10.40, "system": "http://unitsofmeasure.org", "code": "g/dL"}}''')
    (value,) = observed_from_fhir(hb)
    assert str(value.value) == "10.40"
    gone = dict(hb, status="entered-in-error")
    assert observed_from_fhir(gone) == []
