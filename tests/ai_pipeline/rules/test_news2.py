"""NEWS2: every band edge of the RCP 2017 observation chart (Chart 1) and the risk thresholds."""

from decimal import Decimal as D

import pytest

from ai_pipeline.rules import Demographics, Finding, News2, NotEvaluated, Observed
from ai_pipeline.rules.news2 import consciousness_alert, news2_points


@pytest.mark.parametrize(("parameter", "value", "points"), [
    ("respiration rate", "8", 3), ("respiration rate", "9", 1), ("respiration rate", "11", 1),
    ("respiration rate", "12", 0), ("respiration rate", "20", 0), ("respiration rate", "21", 2),
    ("respiration rate", "24", 2), ("respiration rate", "25", 3),
    ("SpO2", "91", 3), ("SpO2", "92", 2), ("SpO2", "93", 2), ("SpO2", "94", 1), ("SpO2", "95", 1), ("SpO2", "96", 0),
    ("systolic BP", "90", 3), ("systolic BP", "91", 2), ("systolic BP", "100", 2), ("systolic BP", "101", 1),
    ("systolic BP", "110", 1), ("systolic BP", "111", 0), ("systolic BP", "219", 0), ("systolic BP", "220", 3),
    ("pulse", "40", 3), ("pulse", "41", 1), ("pulse", "50", 1), ("pulse", "51", 0), ("pulse", "90", 0),
    ("pulse", "91", 1), ("pulse", "110", 1), ("pulse", "111", 2), ("pulse", "130", 2), ("pulse", "131", 3),
    ("temperature", "35.0", 3), ("temperature", "35.1", 1), ("temperature", "36.0", 1), ("temperature", "36.1", 0),
    ("temperature", "38.0", 0), ("temperature", "38.1", 1), ("temperature", "39.0", 1), ("temperature", "39.1", 2),
])
def test_chart_bands(parameter, value, points):
    assert news2_points(parameter, D(value)) == points


@pytest.mark.parametrize(("answer", "alert"), [("A", True), ("Alert", True), ("C", False), ("New confusion", False),
                                               ("Voice", False), ("P", False), ("U", False), ("sleepy", None)])
def test_acvpu(answer, alert):
    assert consciousness_alert(answer) is alert


def vitals(rr="16", spo2="97", o2_flow="0", temp="37.0", sbp="120", hr="70", acvpu="Alert", temp_unit="Cel"):
    return [Observed("9279-1", D(rr), "/min"), Observed("59408-5", D(spo2), "%"), Observed("3151-8", D(o2_flow), "L/min"),
            Observed("8310-5", D(temp), temp_unit), Observed("8480-6", D(sbp), "mm[Hg]"),
            Observed("8867-4", D(hr), "{beats}/min"), Observed("67775-7", acvpu)]


def test_all_normal_scores_zero_low_risk():
    result = News2().evaluate(vitals(), Demographics())
    assert isinstance(result, Finding) and result.values["score"] == 0
    assert result.predictions[0].risk == "low" and not result.positive


def test_single_red_score_is_low_medium():
    result = News2().evaluate(vitals(acvpu="V"), Demographics())
    assert isinstance(result, Finding) and result.values["score"] == 3
    assert result.predictions[0].risk_text == "NEWS2 3: low-medium" and result.positive


def test_medium_and_high_bands():
    # RR 22 (2) + SpO2 94 (1) + oxygen (2) = 5: medium
    medium = News2().evaluate(vitals(rr="22", spo2="94", o2_flow="2"), Demographics())
    assert isinstance(medium, Finding) and medium.values["score"] == 5 and medium.predictions[0].risk == "moderate"
    # + pulse 112 (2) = 7: high; temperature given in °F (100.4 °F = 38.0 °C, 0 points)
    high = News2().evaluate(vitals(rr="22", spo2="94", o2_flow="2", hr="112", temp="100.4", temp_unit="[degF]"),
                            Demographics())
    assert isinstance(high, Finding) and high.values["score"] == 7 and high.predictions[0].risk == "high"


def test_partial_vitals_are_not_scored():
    result = News2().evaluate(vitals()[:4], Demographics())
    assert isinstance(result, NotEvaluated)
    assert set(result.missing) == {"systolic BP", "pulse", "consciousness (ACVPU, LOINC 67775-7)"}
