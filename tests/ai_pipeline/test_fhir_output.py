"""The builders' resources are valid R4 (the project's validator) and say what the brief requires."""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal as D

import pytest

from ai_pipeline import (
    Demographics,
    Finding,
    LabExtractor,
    Observed,
    evaluate,
    lab_observation,
    pipeline_device,
    provenance,
    risk_assessment,
)
from resources import validate
from resources.fhir_json import dumps, loads

NOW = datetime(2024, 5, 14, 10, 0, tzinfo=UTC)


def valid(resource):
    """Round-trip through the FHIR JSON codec (decimals stay Decimal) and validate."""
    parsed = loads(dumps(resource))
    assert validate(parsed) == []
    return parsed


@pytest.fixture(scope="module")
def findings():
    observations = [
        Observed("14682-9", D("132"), "umol/L", effective=datetime(2024, 5, 14, 8, 30), reference="Observation/cr2"),
        Observed("14682-9", D("80"), "umol/L", effective=datetime(2024, 5, 12, 8, 30), reference="Observation/cr1"),
        Observed("32294-1", D("45.2"), "mg/mmol", reference="Observation/acr"),
        Observed("4548-4", D("7.10"), "%", reference="Observation/a1c"),
        Observed("718-7", D("95"), "g/L", reference="Observation/hb"),
        Observed("2823-3", D("6.7"), "mmol/L", reference="Observation/k"),
        Observed("2951-2", D("131"), "mmol/L"),
    ]
    results = evaluate(observations, Demographics(age_years=67, sex="female"))
    return {r.rule_id: r for r in results if isinstance(r, Finding)}


def test_every_finding_becomes_a_valid_risk_assessment(findings):
    assert len(findings) >= 7
    for finding in findings.values():
        resource = valid(risk_assessment(finding, subject="Patient/p1", occurrence=NOW, encounter="Encounter/e1",
                                         performer="Device/ai-pipeline"))
        assert resource["status"] == "preliminary"
        assert resource["method"]["coding"][0]["code"] == finding.rule_id
        assert resource["subject"] == {"reference": "Patient/p1"}
        assert resource["encounter"] == {"reference": "Encounter/e1"}
        assert resource["occurrenceDateTime"] == "2024-05-14T10:00:00+00:00"
        assert "clinician" in resource["note"][0]["text"]
        assert resource["meta"]["security"][0]["code"] == "AIAST"
        for prediction in resource["prediction"]:
            systems = {c["system"] for c in prediction["outcome"]["coding"]}
            assert "http://snomed.info/sct" in systems
            assert "probabilityDecimal" in prediction or "qualitativeRisk" in prediction


def test_kfre_probabilities_are_decimals_with_horizons(findings):
    resource = valid(risk_assessment(findings["kfre-4-variable"], subject="Patient/p1", occurrence=NOW))
    two, five = resource["prediction"]
    assert isinstance(two["probabilityDecimal"], D) and two["whenRange"]["high"]["value"] == 2
    assert five["whenRange"]["high"]["code"] == "a"
    assert {c["code"] for c in two["outcome"]["coding"]} == {"46177005", "N18.5"}


def test_basis_references_the_observations_used(findings):
    resource = valid(risk_assessment(findings["kdigo-aki-2012"], subject="Patient/p1", occurrence=NOW))
    assert {b["reference"] for b in resource["basis"]} == {"Observation/cr2", "Observation/cr1"}
    unreferenced = valid(risk_assessment(findings["ese-hyponatraemia-2014"], subject="Patient/p1", occurrence=NOW))
    assert unreferenced["basis"] == [{"display": "2951-2 131 mmol/L"}]


def test_provenance_and_device():
    device = valid(pipeline_device(software_version="0.1.0", components={"tesseract": "5.3.0", "spaCy": "3.8"},
                                   device_id="ai-pipeline"))
    assert device["version"][0] == {"type": {"text": "software"}, "value": "0.1.0"}
    resource = valid(provenance(["RiskAssessment/r1", "RiskAssessment/r2"], recorded=NOW, device="Device/ai-pipeline",
                                sources=["DocumentReference/d1", "Observation/cr2"]))
    assert resource["agent"][0]["who"] == {"reference": "Device/ai-pipeline"}
    assert resource["agent"][0]["type"]["coding"][0]["code"] == "performer"
    assert [e["role"] for e in resource["entity"]] == ["source", "source"]


def test_instants_need_a_zone(findings):
    with pytest.raises(ValueError, match="time zone"):
        provenance(["RiskAssessment/r1"], recorded=datetime(2024, 5, 14), device="Device/d")


def test_extracted_values_become_valid_observations():
    text = ("Specimen: Serum   Collected: 14/05/2024 08:30\n"
            "Creatinine 132 H umol/L 45 - 90\nHbA1c 7.10 % 4.0 - 5.6\nTroponin T (hs) <5 ng/L <14\n"
            "Chloride 111 H mimol/L 95 - 108\n")
    results = LabExtractor().extract(text).results
    london = timezone(timedelta(hours=1))
    built = [valid(lab_observation(r, subject="Patient/p1", document="DocumentReference/d1", timezone=london,
                                   issued=NOW)) for r in results]
    creatinine, a1c, troponin, chloride = built
    assert creatinine["status"] == "preliminary"
    assert creatinine["code"]["coding"][0] == {"system": "http://loinc.org", "code": "14682-9",
                                               "display": "Creatinine [Moles/volume] in Serum or Plasma"}
    assert creatinine["valueQuantity"]["code"] == "umol/L" and creatinine["effectiveDateTime"] == "2024-05-14T08:30:00+01:00"
    assert creatinine["interpretation"][0]["coding"][0]["code"] == "H"
    assert creatinine["referenceRange"][0]["low"]["value"] == 45
    assert creatinine["derivedFrom"] == [{"reference": "DocumentReference/d1"}]
    assert creatinine["method"]["coding"][0]["code"] == "automated-extraction"
    assert creatinine["specimen"] == {"display": "Serum"}
    assert str(a1c["valueQuantity"]["value"]) == "7.10"
    assert a1c["interpretation"][0]["text"] == "derived from the printed reference range"
    assert troponin["valueQuantity"]["comparator"] == "<"
    assert "Needs review" in chloride["note"][0]["text"]


def test_naive_collection_time_without_a_zone_keeps_the_date_only():
    (result,) = LabExtractor().extract("Collected: 14/05/2024 08:30\nSodium 140 mmol/L").results
    resource = valid(lab_observation(result, subject="Patient/p1", document="DocumentReference/d1"))
    assert resource["effectiveDateTime"] == "2024-05-14"
