"""From bytes to FHIR: the never-raising entry point, then rules and resources, on generated reports."""

import random
from datetime import UTC, datetime

import pytest
from PIL import Image

from ai_pipeline import (
    Demographics,
    DocumentTooLarge,
    Finding,
    OcrSettings,
    UnreadableDocument,
    evaluate,
    lab_observation,
    observed_from_lab_result,
    read_lab_report,
    risk_assessment,
)
from resources import validate
from resources.fhir_json import dumps, loads
from tests.ai_pipeline.report_samples import Row, encoded, letter_page, text_pdf

pytestmark = pytest.mark.usefixtures("ocr_tools")

KIDNEY_ROWS = [
    Row("Creatinine", "132", "H", "umol/L", "45 - 90", "14682-9", "umol/L"),
    Row("Urine ACR", "45.2", "H", "mg/mmol", "< 3.0", "32294-1", "mg/mmol"),
    Row("Potassium", "6.7", "HH", "mmol/L", "3.5 - 5.3", "2823-3", "mmol/L"),
    Row("HbA1c", "54", "H", "mmol/mol", "20 - 41", "59261-8", "mmol/mol"),
]


def test_report_to_risk_assessments():
    reading = read_lab_report(text_pdf([KIDNEY_ROWS]))
    assert reading.status == "extracted" and reading.extraction is not None
    results = reading.extraction.results
    assert [r.fields for r in results] == [row.truth for row in KIDNEY_ROWS]
    stored = [f"Observation/x{i}" for i in range(len(results))]
    for result in results:
        observation = loads(dumps(lab_observation(result, subject="Patient/p1", document="DocumentReference/d1")))
        assert validate(observation) == []
    observed = [observed_from_lab_result(r, ref) for r, ref in zip(results, stored, strict=True)]
    findings = {f.rule_id: f for f in evaluate(observed, Demographics(age_years=67, sex="female"))
                if isinstance(f, Finding)}
    assert findings["ckd-epi-2021-kdigo"].values["g_category"] == "G3b"
    assert findings["ukka-hyperkalaemia-2020"].values["severity"] == "severe"
    assert findings["ada-diabetes-2025"].positive
    kfre = risk_assessment(findings["kfre-4-variable"], subject="Patient/p1",
                           occurrence=datetime(2024, 5, 14, 10, tzinfo=UTC))
    assert validate(loads(dumps(kfre))) == []
    assert {b["reference"] for b in kfre["basis"]} == {"Observation/x0", "Observation/x1"}
    conditions = {c.key: c for c in reading.extraction.conditions}
    assert conditions["aki"].negated and conditions["type-2-diabetes"].family


def test_a_letter_is_not_a_lab_report():
    reading = read_lab_report(encoded(letter_page(), "PNG"))
    assert reading.status == "no-lab-results" and reading.error is None
    assert reading.message == "no lab results were found in the document"


def test_ocr_garbage_gives_no_results():
    rng = random.Random(5)
    noise = Image.frombytes("L", (900, 1200), bytes(rng.choice((0, 255)) for _ in range(900 * 1200)))
    reading = read_lab_report(encoded(noise, "PNG"))
    assert reading.status == "no-lab-results"


def test_bad_documents_are_rejected_with_their_typed_error():
    rejected = read_lab_report(b"\x00\x01 not a document")
    assert rejected.status == "rejected" and isinstance(rejected.error, UnreadableDocument)
    too_big = read_lab_report(text_pdf([KIDNEY_ROWS]), settings=OcrSettings(max_bytes=100))
    assert isinstance(too_big.error, DocumentTooLarge) and "limit" in too_big.message
