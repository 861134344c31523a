"""Lab results from report text: names (with OCR slips), exact values, units, flags, ranges, context."""

from datetime import datetime
from decimal import Decimal

import pytest

from ai_pipeline.nlp import LabExtractor

REPORT = """CITY GENERAL HOSPITAL - CLINICAL BIOCHEMISTRY
Specimen: Serum      Collected: 14/05/2024 08:30
Test                 Result  Flag  Units          Reference range
Creatinine           132     H     umol/L         45 - 90
eGFR (CKD-EPI 2021)  38      L     mL/min/1.73m2  >60
HbAlc                7.10          %              4.0 - 5.6
HbA1c (IFCC)         54      H     mmol/mol       20 - 41
WBC                  7.10          x10^9/L        4.0 - 11.0
Troponin T (hs)      <5            ng/L           <14
Potassium            6.7     HH    mmol/L         3.5 - 5.3
Sodium 140 mmol/L    Chloride 101 mmol/L
Specimen: Urine      Collected: 2024-05-14 09:10
Urine ACR            45.2    H     mg/mmol        < 3.0
"""


@pytest.fixture(scope="module")
def found():
    return LabExtractor().extract(REPORT)


def by_code(found, loinc):
    (result,) = [r for r in found.results if r.loinc == loinc]
    return result


def test_every_result_is_read(found):
    assert [r.loinc for r in found.results] == [
        "14682-9", "98979-8", "4548-4", "59261-8", "6690-2", "67151-1", "2823-3", "2951-2", "2075-0", "32294-1"]
    assert found.is_lab_report


def test_value_text_is_kept_exactly(found):
    a1c = by_code(found, "4548-4")
    assert a1c.value == "7.10" and a1c.decimal_value == Decimal("7.10")
    assert by_code(found, "6690-2").value == "7.10"


def test_code_follows_unit(found):
    assert by_code(found, "4548-4").unit == "%"
    assert by_code(found, "59261-8").unit == "mmol/mol"
    assert by_code(found, "6690-2").unit == "10*9/L"


def test_ocr_look_alikes_in_names_are_folded_not_flagged(found):
    a1c = by_code(found, "4548-4")
    assert a1c.label == "HbAlc" and a1c.test_name == "HbA1c" and not a1c.needs_review


def test_flags_printed_and_derived(found):
    assert by_code(found, "14682-9").flag == "H" and not by_code(found, "14682-9").flag_derived
    assert by_code(found, "2823-3").flag == "HH"
    a1c = by_code(found, "4548-4")
    assert (a1c.flag, a1c.flag_derived) == ("H", True)  # 7.10 above 5.6 with no printed flag
    assert by_code(found, "67151-1").flag == "N" and by_code(found, "67151-1").comparator == "<"


def test_reference_range(found):
    creatinine = by_code(found, "14682-9")
    assert (creatinine.reference_low, creatinine.reference_high, creatinine.reference_text) == ("45", "90", "45 - 90")
    egfr = by_code(found, "98979-8")
    assert (egfr.reference_low, egfr.reference_high) == ("60", None)


def test_specimen_and_collection_time_follow_sections(found):
    creatinine = by_code(found, "14682-9")
    assert creatinine.specimen == "Serum" and creatinine.collected == datetime(2024, 5, 14, 8, 30)
    acr = by_code(found, "32294-1")
    assert acr.specimen == "Urine" and acr.collected == datetime(2024, 5, 14, 9, 10)


def test_two_results_on_one_line(found):
    assert by_code(found, "2951-2").value == "140" and by_code(found, "2075-0").value == "101"


@pytest.mark.parametrize(("line", "loinc", "value", "review"), [
    ("Senum creatinine 132 umol/L", "14682-9", "132", True),         # one-letter slip: fuzzy, reviewed
    ("Fastindglucose 7.4 mmol/L", "14771-0", "7.4", True),
    ("Glucose (fasting) 7.4 mmol/L", "14771-0", "7.4", False),
    ("Glucose, random 7.4 mmol/L", "14749-6", "7.4", False),
    ("Potassium 5.l mmol/L", "2823-3", "5.1", True),                   # l read for 1 inside a number
    ("eGFR(CKD-EPI2021) 38 mL/min/1.73m2", "98979-8", "38", False),   # OCR lost the spaces
    ("HbA1c 48 mmol/mol (Sl units)", "59261-8", "48", False),
    ("Her potassium was 6.1 mmol/L on admission.", "2823-3", "6.1", False),
    ("ALT 35 U/L", "1742-6", "35", False),
    ("AST 35 U/L", "1920-8", "35", False),
])
def test_single_lines(line, loinc, value, review):
    (result,) = LabExtractor().extract(line).results
    assert (result.loinc, result.value, result.needs_review) == (loinc, value, review)


def test_unit_slip_is_read_and_flagged():
    (result,) = LabExtractor().extract("Chloride 111 H mimol/L 95 - 108").results
    assert result.unit == "mmol/L" and result.needs_review


def test_printed_flag_disagreeing_with_range_is_flagged_for_review():
    (result,) = LabExtractor().extract("Sodium 140 L mmol/L 133 - 146").results
    assert result.flag == "L" and result.needs_review
    assert "disagrees" in result.review_reasons[0]


def test_names_without_values_are_mentions_not_results():
    found = LabExtractor().extract("Please repeat creatinine and potassium next week.")
    assert found.results == () and not found.is_lab_report


def test_a_letter_has_no_results():
    letter = "Dear Dr Patel,\nThank you for seeing this pleasant gentleman who walks 5 miles a day.\n"
    assert LabExtractor().extract(letter).results == ()


def test_garbage_has_no_results():
    assert LabExtractor().extract("~~ ;:: @@ %% 123 /// lorem ipsum 4.5 .. ,,\n\x0c\x00").results == ()


def test_conditions_with_context():
    text = ("Comment: No evidence of acute kidney injury. Possible early CKD; mother had type 2 diabetes. "
            "?sepsis. Pneumonia was ruled out. Denies chest pain, no DVT. Known hypertension.")
    mentions = {m.key: m for m in LabExtractor().extract(text).conditions}
    assert mentions["aki"].negated and mentions["aki"].snomed == "14669001"
    assert mentions["ckd"].uncertain and not mentions["ckd"].negated
    assert mentions["type-2-diabetes"].family and mentions["type-2-diabetes"].icd10 == "E11"
    assert mentions["sepsis"].uncertain and not mentions["sepsis"].family
    assert mentions["pneumonia"].negated
    assert mentions["dvt"].negated
    assert mentions["hypertension"].affirmed


def test_test_names_are_not_conditions():
    found = LabExtractor().extract("eGFR (CKD-EPI) 55 mL/min/1.73m2")
    assert found.conditions == ()
