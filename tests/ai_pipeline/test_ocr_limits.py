"""The limits on reading a document come from the server's Settings (`FHIR_AI_OCR_*`); a document over
one ends as a done job whose result gives the reason, with nothing filed from its other pages."""

from __future__ import annotations

import io

import orjson
import pytest
from pypdf import PdfReader, PdfWriter

from ai_pipeline import OcrFailed, OcrSettings, read_document
from ai_pipeline.plugin import ocr_settings
from fhir_server.bootstrap import start_runtime
from fhir_server.config import Settings
from fhir_server.context import DEV_PRINCIPAL, RequestContext
from tests.ai_pipeline.records import document_reference, patient, run_jobs
from tests.ai_pipeline.report_samples import image_pdf, render_page, report_rows, text_pdf

pytestmark = pytest.mark.usefixtures("ocr_tools")

CTX = RequestContext(principal=DEV_PRINCIPAL, base_url="http://test/fhir")


def text_then_scanned_pdf() -> bytes:
    """Page 1 with a text layer (read at once), page 2 a scan (rendered at 300 dpi for OCR)."""
    writer = PdfWriter()
    for part in (text_pdf([report_rows(3, count=5)]), image_pdf([render_page(report_rows(4, count=5))])):
        for page in PdfReader(io.BytesIO(part)).pages:
            writer.add_page(page)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def test_the_limits_are_read_from_the_environment(monkeypatch):
    for name, value in {"MAX_BYTES": "2048", "MAX_PAGES": "3", "MAX_PAGE_PIXELS": "5000000",
                        "PAGE_TIMEOUT_SECONDS": "7.5", "DOCUMENT_TIMEOUT_SECONDS": "20"}.items():
        monkeypatch.setenv(f"FHIR_AI_OCR_{name}", value)
    ocr = ocr_settings(Settings())
    assert (ocr.max_bytes, ocr.max_pages, ocr.max_page_pixels) == (2048, 3, 5_000_000)
    assert (ocr.page_timeout_seconds, ocr.document_timeout_seconds) == (7.5, 20.0)


async def extract_with(settings: Settings, data: bytes) -> tuple[dict, int]:
    """Store a DocumentReference holding `data`, run the pipeline's jobs; (the job's result, Observations)."""
    runtime = await start_runtime(settings)
    try:
        resources = runtime.services.resources
        await resources.update(CTX, "Patient", "p1", patient())
        await resources.update(CTX, "DocumentReference", "d1", document_reference(data, "application/pdf"))
        assert await run_jobs(runtime) == 1
        async with runtime.store.single() as db:
            status, result = await db.fetchrow("SELECT status, result FROM jobs WHERE kind = 'ai-pipeline.extract'")
            observations = await db.fetchval("SELECT count(*) FROM resources WHERE res_type = 'Observation'")
        assert status == "done"
        return orjson.loads(result), observations
    finally:
        await runtime.close()


async def test_a_page_over_the_pixel_limit_rejects_the_whole_document(settings, monkeypatch):
    monkeypatch.setenv("FHIR_AI_OCR_MAX_PAGE_PIXELS", "5000000")  # an A4 page at 300 dpi is 8.7 megapixels
    limited = Settings(data_dir=settings.data_dir, database_url=settings.database_url, dev_mode=True)
    result, observations = await extract_with(limited, text_then_scanned_pdf())
    assert result["status"] == "rejected" and result["written"] == []
    message = result["attachments"][0]["message"]
    assert "page 2" in message and "the limit is 5" in message
    assert observations == 0  # page 1's results are not filed on their own


async def test_a_document_over_the_byte_limit_is_refused_before_reading(settings, monkeypatch):
    monkeypatch.setenv("FHIR_AI_OCR_MAX_BYTES", "2048")
    limited = Settings(data_dir=settings.data_dir, database_url=settings.database_url, dev_mode=True)
    result, observations = await extract_with(limited, text_pdf([report_rows(5, count=5)]))
    assert result["status"] == "rejected"
    assert "the limit of 2048 bytes" in result["attachments"][0]["message"]
    assert observations == 0


def test_the_document_time_limit_stops_reading_between_pages():
    with pytest.raises(OcrFailed, match="took longer than"):  # the document's limit, or its page's share of it
        read_document(text_then_scanned_pdf(), OcrSettings(document_timeout_seconds=0.2))
