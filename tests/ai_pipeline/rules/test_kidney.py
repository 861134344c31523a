"""CKD-EPI 2021 and KDIGO categories.

Expected eGFR values are the published equation (Inker et al., NEJM 2021;385:1737, eq. in Table 1 /
kidney.org "CKD-EPI Creatinine Equation (2021)") worked by hand, each step in the comment:
eGFR = 142 × min(Scr/κ,1)^α × max(Scr/κ,1)^−1.200 × 0.9938^age × 1.012 [female].
Category bounds are KDIGO 2024's GFR (G1 ≥ 90 … G5 < 15) and albuminuria (A1 < 3 mg/mmol / < 30 mg/g,
A2 3–30 / 30–300, A3 > 30 / > 300) categories and its heat map.
"""

from decimal import Decimal as D

import pytest

from ai_pipeline.rules import CkdEpi2021, Demographics, Finding, NotEvaluated, Observed
from ai_pipeline.rules.kidney import a_category, ckd_epi_2021, g_category, kdigo_risk


@pytest.mark.parametrize(("scr", "age", "sex", "expected"), [
    # Scr = κ: 142 × 0.9938^50 = 142 × e^(50 × −0.0062193) = 142 × 0.732754 = 104.05; × 1.012 = 105.30
    ("0.7", 50, "female", 105),
    ("0.9", 50, "male", 104),
    # (1.0/0.9)^−1.2 = e^(−1.2 × 0.1053605) = 0.881234; 104.05 × 0.881234 = 91.69
    ("1.0", 50, "male", 92),
    # (1.2/0.7)^−1.2 = 0.523718; 0.9938^60 = 0.688599; 142 × 0.523718 × 0.688599 × 1.012 = 51.82
    ("1.2", 60, "female", 52),
    # (0.5/0.7)^−0.241 = e^(0.241 × 0.3364722) = 1.084468; 0.9938^30 = 0.829794; 142 × … × 1.012 = 129.32
    ("0.5", 30, "female", 129),
    # (2.5/0.9)^−1.2 = e^(−1.2 × 1.0216512) = 0.293485; 0.9938^70 = 0.647022; 142 × … = 26.96
    ("2.5", 70, "male", 27),
])
def test_ckd_epi_2021_matches_hand_worked_equation(scr, age, sex, expected):
    assert ckd_epi_2021(D(scr), age, sex) == expected


@pytest.mark.parametrize(("egfr", "category"), [
    (90, "G1"), (89, "G2"), (60, "G2"), (59, "G3a"), (45, "G3a"), (44, "G3b"), (30, "G3b"), (29, "G4"),
    (15, "G4"), (14, "G5"),
])
def test_kdigo_g_category_bounds(egfr, category):
    assert g_category(D(egfr)) == category


def test_censored_egfr_categories():
    assert g_category(D(90), ">") == "G1"
    assert g_category(D(60), ">") == "G1-G2"
    assert g_category(D(45), ">") is None


@pytest.mark.parametrize(("acr", "unit", "category"), [
    ("2.9", "mg/mmol", "A1"), ("3", "mg/mmol", "A2"), ("30", "mg/mmol", "A2"), ("30.1", "mg/mmol", "A3"),
    ("29", "mg/g", "A1"), ("30", "mg/g", "A2"), ("300", "mg/g", "A2"), ("301", "mg/g", "A3"),
])
def test_kdigo_a_category_bounds(acr, unit, category):
    assert a_category(D(acr), unit) == category


@pytest.mark.parametrize(("g", "a", "risk"), [
    ("G2", "A1", "low"), ("G2", "A2", "moderate"), ("G3a", "A1", "moderate"), ("G3a", "A2", "high"),
    ("G3b", "A1", "high"), ("G4", "A1", "high"),
])
def test_kdigo_heat_map(g, a, risk):
    assert kdigo_risk(g, a)[0] == risk


def test_kdigo_heat_map_words_distinguish_very_high():
    assert kdigo_risk("G3b", "A2")[1] == "very high"
    assert "at least" in kdigo_risk("G3a", None)[1]


def test_finding_from_creatinine_in_umol_per_l():
    # 132 µmol/L ÷ 88.4 = 1.4932 mg/dL; female 67: (1.4932/0.7)^−1.2 × 0.9938^67 × 142 × 1.012 = 38.4
    creatinine = Observed("14682-9", D("132"), "umol/L", reference="Observation/cr")
    acr = Observed("32294-1", D("45.2"), "mg/mmol", reference="Observation/acr")
    result = CkdEpi2021().evaluate([creatinine, acr], Demographics(age_years=67, sex="female"))
    assert isinstance(result, Finding)
    assert result.values["egfr"] == 38
    assert result.values["g_category"] == "G3b" and result.values["a_category"] == "A3"
    assert result.positive
    assert result.predictions[0].outcome.snomed == "700379002"
    assert result.predictions[0].outcome.icd10 == "N18.3"
    assert [o.reference for o in result.basis] == ["Observation/cr", "Observation/acr"]


def test_normal_egfr_without_albuminuria_is_not_ckd():
    result = CkdEpi2021().evaluate([Observed("2160-0", D("0.8"), "mg/dL")], Demographics(40, "male"))
    assert isinstance(result, Finding)
    assert not result.positive and result.values["g_category"] == "G1"


def test_reported_egfr_is_used_without_demographics():
    result = CkdEpi2021().evaluate([Observed("98979-8", D("90"), "mL/min/{1.73_m2}", comparator=">")],
                                   Demographics())
    assert isinstance(result, Finding) and result.values["g_category"] == "G1"


def test_missing_inputs_are_named():
    result = CkdEpi2021().evaluate([], Demographics(age_years=50))
    assert isinstance(result, NotEvaluated) and result.reason == "missing-input"
    assert "sex" in result.missing and result.message.startswith("insufficient inputs: missing")


def test_children_are_out_of_scope():
    result = CkdEpi2021().evaluate([Observed("2160-0", D("0.5"), "mg/dL")], Demographics(12, "male"))
    assert isinstance(result, NotEvaluated) and result.reason == "not-applicable"
