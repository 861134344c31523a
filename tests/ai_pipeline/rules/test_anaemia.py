"""WHO 2011 haemoglobin thresholds (WHO/NMH/NHD/MNM/11.1, Table 1), in g/L."""

from decimal import Decimal as D

import pytest

from ai_pipeline.rules import Demographics, Finding, NotEvaluated, Observed, WhoAnaemia
from ai_pipeline.rules.anaemia import anaemia_severity


@pytest.mark.parametrize(("hb", "population", "severity"), [
    (130, "men", "none"), (129, "men", "mild"), (110, "men", "mild"), (109, "men", "moderate"),
    (80, "men", "moderate"), (79, "men", "severe"),
    (120, "non-pregnant women", "none"), (119, "non-pregnant women", "mild"), (109, "non-pregnant women", "moderate"),
    (110, "pregnant women", "none"), (100, "pregnant women", "mild"), (99, "pregnant women", "moderate"),
    (69, "pregnant women", "severe"), (114, "children 5-11 years", "mild"), (109, "children 6-59 months", "mild"),
])
def test_who_table(hb, population, severity):
    assert anaemia_severity(D(hb), population) == severity


def test_grams_per_decilitre_are_converted():
    result = WhoAnaemia().evaluate([Observed("718-7", D("10.4"), "g/dL")], Demographics(45, "male"))
    assert isinstance(result, Finding) and result.values["severity"] == "moderate" and result.positive


def test_unknown_pregnancy_only_matters_when_it_changes_the_answer():
    woman = Demographics(30, "female")
    same = WhoAnaemia().evaluate([Observed("718-7", D("95"), "g/L")], woman)   # moderate either way
    assert isinstance(same, Finding) and same.values["severity"] == "moderate"
    differs = WhoAnaemia().evaluate([Observed("718-7", D("115"), "g/L")], woman)  # mild vs none
    assert isinstance(differs, NotEvaluated) and differs.missing == ("pregnancy status",)


def test_missing_sex_for_adults():
    result = WhoAnaemia().evaluate([Observed("718-7", D("115"), "g/L")], Demographics(age_years=30))
    assert isinstance(result, NotEvaluated) and "sex" in result.missing
