"""Hyperkalaemia (UK Kidney Association 2020: mild 5.5–5.9, moderate 6.0–6.4, severe ≥ 6.5 mmol/L) and
hyponatraemia (Spasovski et al. 2014: mild 130–135, moderate 125–129, profound < 125 mmol/L)."""

from decimal import Decimal as D

import pytest

from ai_pipeline.rules import Demographics, Finding, Hyperkalaemia, Hyponatraemia, NotEvaluated, Observed
from ai_pipeline.rules.electrolytes import potassium_severity, sodium_severity


@pytest.mark.parametrize(("k", "severity"), [
    ("5.4", "none"), ("5.5", "mild"), ("5.9", "mild"), ("6.0", "moderate"), ("6.4", "moderate"), ("6.5", "severe"),
])
def test_potassium_bands(k, severity):
    assert potassium_severity(D(k)) == severity


@pytest.mark.parametrize(("na", "severity"), [
    ("135", "none"), ("134", "mild"), ("130", "mild"), ("129", "moderate"), ("125", "moderate"), ("124", "profound"),
])
def test_sodium_bands(na, severity):
    assert sodium_severity(D(na)) == severity


def test_hyperkalaemia_finding_accepts_meq_per_l():
    result = Hyperkalaemia().evaluate([Observed("2823-3", D("6.7"), "meq/L")], Demographics())
    assert isinstance(result, Finding) and result.values["severity"] == "severe"
    assert result.predictions[0].outcome.icd10 == "E87.5"
    assert "haemolysed" in result.rationale


def test_hyponatraemia_missing():
    result = Hyponatraemia().evaluate([Observed("2823-3", D("4.0"), "mmol/L")], Demographics())
    assert isinstance(result, NotEvaluated) and result.missing == ("serum sodium",)
