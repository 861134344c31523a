"""One lab report from bytes to results, never raising on a bad document: the job runner's entry point.

    reading = read_lab_report(data)
    reading.status        # "extracted" | "no-lab-results" | "rejected"
    reading.error         # the PipelineError when rejected (typed: too large, unreadable, no OCR…)
    reading.extraction    # LabExtraction: results, condition mentions
    observed = [observed_from_lab_result(r, f"Observation/{id}") for r, id in zip(results, stored_ids)]

A document that is not a lab report (a letter) or whose OCR is garbage reads as `no-lab-results`:
nothing is invented from it. `observed_from_lab_result` hands extracted values to the rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from ai_pipeline.document import DocumentText, OcrSettings
from ai_pipeline.errors import PipelineError
from ai_pipeline.nlp.extraction import LabExtraction, LabExtractor, LabResult
from ai_pipeline.ocr import read_document
from ai_pipeline.rules.model import Observed

__all__ = ["ReportReading", "read_lab_report", "observed_from_lab_result"]


@dataclass(frozen=True, slots=True)
class ReportReading:
    """The outcome of reading one document."""

    status: Literal["extracted", "no-lab-results", "rejected"]
    document: DocumentText | None = None
    extraction: LabExtraction | None = None
    error: PipelineError | None = None

    @property
    def message(self) -> str:
        if self.error is not None:
            return self.error.diagnostics
        if self.status == "no-lab-results":
            return "no lab results were found in the document"
        assert self.extraction is not None
        review = len(self.extraction.needs_review)
        return f"{len(self.extraction.results)} lab results extracted, {review} for review"


def read_lab_report(data: bytes, *, settings: OcrSettings | None = None,
                    extractor: LabExtractor | None = None) -> ReportReading:
    """Read `data` (PNG, JPEG, TIFF or PDF) and extract its lab results; PipelineErrors become `rejected`."""
    settings = settings or OcrSettings()
    try:
        document = read_document(data, settings)
    except PipelineError as error:
        return ReportReading("rejected", error=error)
    extractor = extractor or LabExtractor(review_below_confidence=settings.review_below_confidence)
    extraction = extractor.extract(document)
    status: Literal["extracted", "no-lab-results"] = "extracted" if extraction.is_lab_report else "no-lab-results"
    return ReportReading(status, document, extraction)


def observed_from_lab_result(result: LabResult, reference: str | None = None) -> Observed:
    """An extracted result as a rule input (its collection time only when it has a time of day)."""
    effective = result.collected if isinstance(result.collected, datetime) else None
    return Observed(result.loinc, result.decimal_value, result.unit, result.comparator, effective, reference,
                    result.test_name)
