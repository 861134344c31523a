"""KDIGO AKI staging (KDIGO AKI guideline 2012, recommendations 2.1.1–2.1.2).

Definition: rise ≥ 26.5 µmol/L (0.3 mg/dL) within 48 h, or ≥ 1.5 × baseline within 7 days.
Stages: 1 = 1.5–1.9 × or the 26.5 µmol/L rise; 2 = 2.0–2.9 ×; 3 = ≥ 3.0 × or to ≥ 353.6 µmol/L (4.0 mg/dL).
"""

from datetime import datetime, timedelta
from decimal import Decimal as D

import pytest

from ai_pipeline.rules import Demographics, Finding, KdigoAki, NotEvaluated, Observed
from ai_pipeline.rules.aki import aki_stage

NOW = datetime(2024, 5, 14, 8, 0)


def creatinine(value, hours_ago, unit="umol/L"):
    return Observed("14682-9" if unit == "umol/L" else "2160-0", D(value), unit, effective=NOW - timedelta(hours=hours_ago),
                    reference=f"Observation/cr-{hours_ago}")


@pytest.mark.parametrize(("current", "baseline_7d", "baseline_48h", "stage"), [
    ("119", "80", None, 0),      # 1.49 ×, no 48-hour value
    ("120", "80", None, 1),      # 1.5 ×
    ("159", "80", None, 1),      # 1.99 ×
    ("160", "80", None, 2),      # 2.0 ×
    ("240", "80", None, 3),      # 3.0 ×
    ("126.5", "100", "100", 1),  # + 26.5 µmol/L within 48 h, 1.27 ×
    ("126.4", "100", "100", 0),  # + 26.4: below the absolute criterion
    ("360", "330", "330", 3),    # AKI by the 48-h rise and now ≥ 353.6 µmol/L
    ("360", "330", None, 0),     # ≥ 353.6 but no AKI criterion met: not staged
])
def test_kdigo_stage_table(current, baseline_7d, baseline_48h, stage):
    assert aki_stage(D(current), D(baseline_7d), D(baseline_48h) if baseline_48h else None) == stage


def test_rule_uses_lowest_in_7_days_and_mixed_units():
    # 0.9 mg/dL × 88.4 = 79.56 µmol/L five days ago; 120 µmol/L now: × 1.51 → stage 1
    series = [creatinine("0.9", 120, unit="mg/dL"), creatinine("100", 30), creatinine("120", 0)]
    result = KdigoAki().evaluate(series, Demographics())
    assert isinstance(result, Finding)
    assert result.values["stage"] == 1 and result.positive
    assert result.predictions[0].outcome.icd10 == "N17.9"
    assert {o.reference for o in result.basis} >= {"Observation/cr-0", "Observation/cr-120"}


def test_baseline_older_than_7_days_is_missing():
    result = KdigoAki().evaluate([creatinine("80", 24 * 8), creatinine("200", 0)], Demographics())
    assert isinstance(result, NotEvaluated) and result.reason == "missing-input"


def test_undated_creatinine_cannot_stage():
    result = KdigoAki().evaluate([Observed("14682-9", D("200"), "umol/L")], Demographics())
    assert isinstance(result, NotEvaluated)
