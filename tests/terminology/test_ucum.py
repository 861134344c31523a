"""UCUM parsing, canonical forms and conversion between commensurable units."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from terminology.ucum import UcumError, canonical, commensurable, convert, parse_unit


@pytest.mark.parametrize(("value", "code", "expected", "canonical_code"), [
    ("5400", "umol/L", "5.4", "m-3.mol"),
    ("5.4", "mmol/L", "5.4", "m-3.mol"),
    ("100", "mg/dL", "1000", "g.m-3"),
    ("1", "g/L", "1000", "g.m-3"),
    ("37", "Cel", "310.15", "K"),
    ("98.6", "[degF]", "310.15", "K"),
    ("72", "/min", "1.2", "s-1"),
    ("72", "{beats}/min", "1.2", "s-1"),
    ("5", "10*9/L", "5E+12", "m-3"),
    ("22", "kg/m2", "22000", "g.m-2"),
    ("1", "%", "0.01", "1"),
    ("120", "mm[Hg]", "15998640", "g.m-1.s-2"),
    ("10", "cm[H2O]", "980665", "g.m-1.s-2"),
    ("70", "[in_i]", "1.778", "m"),
    ("1", "[lb_av]", "453.59237", "g"),
    ("5", "meq/L", "5", "m-3.mol"),
    ("1", "[IU]/L", "1000", "[IU].m-3"),
    ("2", "mL/min/{1.73_m2}", "3.3333333333333333333E-8", "m3.s-1"),
    ("1", "(mg.kg-1)/d", "1.1574074074074074074E-11", "s-1"),
    ("3", "10*-3", "0.003", "1"),
])
def test_canonical_forms(value: str, code: str, expected: str, canonical_code: str) -> None:
    found = canonical(Decimal(value), code)
    assert found.value == Decimal(expected) and found.code == canonical_code


@pytest.mark.parametrize(("value", "source", "target", "expected"), [
    ("5400", "umol/L", "mmol/L", "5.4"),
    ("100", "mg/dL", "g/L", "1"),
    ("37", "Cel", "[degF]", "98.6"),
    ("180", "[lb_av]", "kg", "81.6466266"),
    ("1", "h", "min", "60"),
    ("2", "L", "mL", "2000"),
])
def test_convert_between_commensurable_units(value: str, source: str, target: str, expected: str) -> None:
    assert convert(Decimal(value), source, target) == Decimal(expected)


def test_substance_and_mass_concentrations_are_never_converted() -> None:
    # mmol/L <-> mg/dL would need the molar mass of the substance: UCUM does not make them commensurable
    assert not commensurable("mmol/L", "mg/dL")
    assert not commensurable("mmol/L", "10*9/L")  # an amount of substance is no count of cells
    assert not commensurable("[IU]/L", "U/L")
    with pytest.raises(UcumError, match="not commensurable"):
        convert(Decimal(5), "mmol/L", "mg/dL")


@pytest.mark.parametrize("code", ["", "foo", "mg/", "m[H", "mg dL", "{unclosed", "(mg", "kg)", "/", "dag2x", "Xg"])
def test_what_is_not_ucum_is_refused(code: str) -> None:
    with pytest.raises(UcumError):
        parse_unit(code)


def test_prefixes_apply_to_metric_units_only() -> None:
    assert parse_unit("kg").magnitude == Decimal(1000)
    assert parse_unit("mL").magnitude == Decimal("0.000001")
    with pytest.raises(UcumError):
        parse_unit("kh")  # the hour is not metric
    assert parse_unit("cd").dimension == (("cd", 1),)  # candela, not centi-day


_UNITS = ["mol/L", "mmol/L", "umol/L", "nmol/L"]


@given(st.decimals(min_value=Decimal("0.001"), max_value=Decimal("100000"), places=3),
       st.sampled_from(_UNITS), st.sampled_from(_UNITS))
def test_conversion_round_trips(value: Decimal, source: str, target: str) -> None:
    there = convert(value, source, target)
    assert convert(there, target, source) == value.normalize()
    assert canonical(value, source).value == canonical(there, target).value
