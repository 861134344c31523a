"""Kidney Failure Risk Equation, 4 variables.

Coefficients, centring means and baseline survivals are those of Tangri et al., JAMA 2011;305:1553
(the 4-variable model) with the recalibrated baselines of Tangri et al., JAMA 2016;315:164 (non-North
America 0.9832 at 2 y, 0.9365 at 5 y; North America 0.9750 and 0.9240). The worked example:
70-year-old man, eGFR 25, ACR 300 mg/g —
  −0.2201 × (7.0 − 7.036)          = +0.0079
  +0.2467 × (1 − 0.5642)           = +0.1075
  −0.5567 × (25/5 − 7.222)         = +1.2370
  +0.4510 × (ln 300 − 5.137)       = +0.2556    (ln 300 = 5.7038)
  linear predictor 1.6080, exp = 4.9931
  2 y: 1 − 0.9832^4.9931 = 1 − e^(4.9931 × −0.016943) = 0.0811
  5 y: 1 − 0.9365^4.9931 = 1 − e^(4.9931 × −0.065606) = 0.2793
  North America: 1 − 0.9750^4.9931 = 0.1187; 1 − 0.9240^4.9931 = 0.3261
"""

from decimal import Decimal as D

import pytest

from ai_pipeline.rules import Demographics, Finding, Kfre4, NotEvaluated, Observed
from ai_pipeline.rules.kfre import kfre_4_variable


@pytest.mark.parametrize(("years", "region", "expected"), [
    (2, "non-north-america", "0.0811"), (5, "non-north-america", "0.2793"),
    (2, "north-america", "0.1187"), (5, "north-america", "0.3261"),
])
def test_worked_example(years, region, expected):
    risk = kfre_4_variable(age_years=70, sex="male", egfr=D(25), acr_mg_g=D(300), years=years, region=region)
    assert abs(risk - D(expected)) <= D("0.0002")


def test_rule_converts_acr_from_mg_per_mmol_and_defaults_to_non_north_america():
    # 300 mg/g = 33.94 mg/mmol × 8.84
    observations = [Observed("98979-8", D("25"), "mL/min/{1.73_m2}", reference="Observation/egfr"),
                    Observed("32294-1", D("33.94"), "mg/mmol", reference="Observation/acr")]
    result = Kfre4().evaluate(observations, Demographics(age_years=70, sex="male"))
    assert isinstance(result, Finding)
    two, five = result.predictions
    assert (two.within_years, five.within_years) == (2, 5)
    assert abs(two.probability - D("0.0811")) <= D("0.0003")
    assert abs(five.probability - D("0.2793")) <= D("0.0003")
    assert result.positive and five.risk == "high"
    assert "non-north-america" in result.rule.guideline
    assert five.outcome.snomed == "46177005"


def test_egfr_of_60_or_more_is_out_of_scope():
    observations = [Observed("98979-8", D("75"), "mL/min/{1.73_m2}"), Observed("9318-7", D("40"), "mg/g")]
    result = Kfre4().evaluate(observations, Demographics(age_years=60, sex="female"))
    assert isinstance(result, NotEvaluated) and result.reason == "not-applicable"


def test_missing_acr_is_named():
    result = Kfre4().evaluate([Observed("98979-8", D("25"), "mL/min/{1.73_m2}")], Demographics(70, "male"))
    assert isinstance(result, NotEvaluated)
    assert any("albumin/creatinine" in m for m in result.missing)
