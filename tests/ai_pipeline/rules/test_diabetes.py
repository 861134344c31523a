"""ADA Standards of Care 2025, section 2: diabetes A1C ≥ 6.5 % (48 mmol/mol) or FPG ≥ 126 mg/dL
(7.0 mmol/L); prediabetes A1C 5.7–6.4 % (39–47 mmol/mol) or FPG 100–125 mg/dL (5.6–6.9 mmol/L)."""

from decimal import Decimal as D

import pytest

from ai_pipeline.rules import AdaDiabetes, Demographics, Finding, NotEvaluated, Observed
from ai_pipeline.rules.diabetes import classify_glycaemia


@pytest.mark.parametrize(("test", "value", "unit", "grade"), [
    ("hba1c", "6.5", "%", "diabetes"), ("hba1c", "6.4", "%", "prediabetes"), ("hba1c", "5.7", "%", "prediabetes"),
    ("hba1c", "5.6", "%", "normal"), ("hba1c", "48", "mmol/mol", "diabetes"),
    ("hba1c", "47", "mmol/mol", "prediabetes"), ("hba1c", "39", "mmol/mol", "prediabetes"),
    ("hba1c", "38", "mmol/mol", "normal"), ("fpg", "126", "mg/dL", "diabetes"), ("fpg", "125", "mg/dL", "prediabetes"),
    ("fpg", "100", "mg/dL", "prediabetes"), ("fpg", "99", "mg/dL", "normal"), ("fpg", "7.0", "mmol/L", "diabetes"),
    ("fpg", "6.9", "mmol/L", "prediabetes"), ("fpg", "5.6", "mmol/L", "prediabetes"), ("fpg", "5.5", "mmol/L", "normal"),
])
def test_ada_thresholds_in_both_unit_systems(test, value, unit, grade):
    assert classify_glycaemia(test, D(value), unit) == grade


def test_one_result_in_diabetes_range_needs_confirmation():
    result = AdaDiabetes().evaluate([Observed("4548-4", D("7.1"), "%")], Demographics())
    assert isinstance(result, Finding) and result.positive
    assert result.predictions[0].risk == "high"
    assert result.predictions[0].outcome.snomed == "73211009"


def test_two_results_confirm():
    observations = [Observed("59261-8", D("54"), "mmol/mol"), Observed("14771-0", D("7.4"), "mmol/L")]
    result = AdaDiabetes().evaluate(observations, Demographics())
    assert isinstance(result, Finding) and result.predictions[0].risk == "certain"


def test_prediabetes():
    result = AdaDiabetes().evaluate([Observed("1558-6", D("110"), "mg/dL")], Demographics())
    assert isinstance(result, Finding) and result.predictions[0].outcome.snomed == "714628002"


def test_unknown_unit_is_not_guessed():
    result = AdaDiabetes().evaluate([Observed("4548-4", D("7.1"), None)], Demographics())
    assert isinstance(result, NotEvaluated) and result.reason == "missing-input"
