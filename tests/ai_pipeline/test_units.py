"""Printed units to UCUM, and the explicit conversion table (factors cited in ai_pipeline/units.py)."""

from decimal import Decimal as D

import pytest

from ai_pipeline.units import UnitConversionError, closest_unit, convert, ucum_code


@pytest.mark.parametrize(("printed", "code"), [
    ("µmol/L", "umol/L"), ("umol/l", "umol/L"), ("umo1/L", "umol/L"), ("mmol/L.", "mmol/L"), ("rnmol/L", "mmol/L"),
    ("x10^9/L", "10*9/L"), ("x10*9/L", "10*9/L"), ("x1079/L", "10*9/L"), ("×10⁹/L", "10*9/L"), ("10^9/1", "10*9/L"),
    ("K/uL", "10*3/uL"), ("mIU/L", "m[IU]/L"), ("mlU/L", "m[IU]/L"), ("mL/min/1.73m2", "mL/min/{1.73_m2}"),
    ("mL/min/1.73 m²", "mL/min/{1.73_m2}"), ("%", "%"), ("mmol/mol", "mmol/mol"), ("IU/L", "U/L"), ("g/dl", "g/dL"),
    ("mg/mmol", "mg/mmol"), ("furlongs", None), ("", None),
])
def test_printed_units(printed, code):
    assert ucum_code(printed) == code


def test_closest_unit_for_one_ocr_slip():
    assert closest_unit("mimol/L", ("mmol/L", "meq/L")) == "mmol/L"
    assert closest_unit("xg/L", ("ng/L", "mg/L")) is None  # one edit from both: ambiguous, no guess


@pytest.mark.parametrize(("value", "unit", "to", "analyte", "expected"), [
    ("1.0", "mg/dL", "umol/L", "creatinine", "88.4"),
    ("132", "umol/L", "mg/dL", "creatinine", "1.4932"),
    ("7.0", "mmol/L", "mg/dL", "glucose", "126.112"),
    ("6.5", "%", "mmol/mol", "hba1c", "47.5"),
    ("10.4", "g/dL", "g/L", "haemoglobin", "104"),
    ("3", "mg/mmol", "mg/g", "acr", "26.52"),
    ("37", "Cel", "[degF]", "temperature", "98.6"),
])
def test_conversions(value, unit, to, analyte, expected):
    assert abs(convert(D(value), unit, to, analyte=analyte) - D(expected)) < D("0.1")


def test_no_conversion_between_analytes():
    with pytest.raises(UnitConversionError):
        convert(D(1), "mmol/L", "mg/dL", analyte="creatinine")
