"""Fixtures for the AI pipeline tests: the OCR binaries and one shared extractor.

The OCR tests run the real Tesseract and poppler. Without them the tests are skipped, unless
`FHIR_TEST_REQUIRE_OCR=1` or `CI=true`, which turns the skip into a failure so CI cannot pass by not
testing OCR (Debian packages: tesseract-ocr, tesseract-ocr-eng, poppler-utils).
"""

from __future__ import annotations

import os
import shutil

import pytest

from ai_pipeline.nlp.extraction import LabExtractor


def _required() -> bool:
    return os.environ.get("FHIR_TEST_REQUIRE_OCR", "") in ("1", "true", "yes") or os.environ.get("CI") == "true"


@pytest.fixture(scope="session")
def ocr_tools() -> None:
    """Skip (or fail in CI) when tesseract or pdftoppm is not installed."""
    missing = [tool for tool in ("tesseract", "pdftoppm", "pdfinfo") if shutil.which(tool) is None]
    if missing:
        message = f"OCR tools not installed: {', '.join(missing)} (Debian: tesseract-ocr poppler-utils)"
        if _required():
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def extractor() -> LabExtractor:
    return LabExtractor()
