"""Reading documents with the real Tesseract and poppler: formats, clean-up, caps and typed errors."""

import io
import random

import pytest
from PIL import Image
from pypdf import PdfReader, PdfWriter

from ai_pipeline import (
    DocumentTooLarge,
    EmptyDocument,
    OcrFailed,
    OcrSettings,
    OcrUnavailable,
    PipelineError,
    UnreadableDocument,
    media_type,
    read_document,
    tesseract_version,
)
from fhir_server.errors import FhirError
from tests.ai_pipeline.report_samples import encoded, image_pdf, render_page, report_rows, skewed, text_pdf

pytestmark = pytest.mark.usefixtures("ocr_tools")

ROWS = report_rows(7, count=6)


@pytest.fixture(scope="module")
def small_page() -> Image.Image:
    """The top of a report page (header and six rows): quick to OCR."""
    return render_page(ROWS).crop((0, 0, 2480, 1300))


def test_tesseract_version():
    assert tesseract_version().split(".")[0] in ("4", "5")


def codes(document, extractor):
    return {r.loinc for r in extractor.extract(document).results}


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "TIFF"])
def test_image_formats_are_read_by_ocr(small_page, fmt, extractor):
    document = read_document(encoded(small_page, fmt))
    (page,) = document.pages
    assert page.source == "ocr" and page.dpi == 300
    assert "CLINICAL BIOCHEMISTRY" in document.text
    assert codes(document, extractor) == {row.loinc for row in ROWS}
    assert document.words and all(0 <= w.confidence <= 100 for w in document.words)
    assert page.cpu_seconds > 0


def test_multi_page_tiff(small_page):
    buffer = io.BytesIO()
    small_page.save(buffer, format="TIFF", save_all=True, append_images=[small_page], dpi=(300, 300))
    document = read_document(buffer.getvalue())
    assert [p.number for p in document.pages] == [1, 2]
    assert document.page_of(len(document.pages[0].text) + 5) == 2


def test_low_resolution_is_upscaled_to_300_dpi(small_page):
    low = small_page.resize((small_page.width // 2, small_page.height // 2), Image.Resampling.LANCZOS)
    document = read_document(encoded(low, "PNG", dpi=150))
    assert document.pages[0].dpi == 300
    assert all(row.value in document.text for row in ROWS)


def test_skew_is_measured_and_removed(small_page, extractor):
    document = read_document(encoded(skewed(small_page, 2.5), "PNG"))
    assert abs(document.pages[0].skew_degrees + 2.5) <= 0.3
    assert codes(document, extractor) == {row.loinc for row in ROWS}


def test_text_layer_pdf_is_read_without_ocr():
    document = read_document(text_pdf([ROWS, ROWS]))
    assert [p.source for p in document.pages] == ["text-layer", "text-layer"]
    assert all(f"{row.label}" in document.text and row.value in document.text for row in ROWS)
    assert document.confidence(0, 10) == 100.0
    assert sum(p.seconds for p in document.pages) < 1.0


def test_image_only_pdf_is_rendered_and_ocred(small_page, extractor):
    document = read_document(image_pdf([small_page]))
    assert document.pages[0].source == "ocr"
    assert codes(document, extractor) == {row.loinc for row in ROWS}


def test_mixed_pdf_uses_each_page_text_layer_or_ocr(small_page, extractor):
    writer = PdfWriter()
    for data in (text_pdf([ROWS]), image_pdf([small_page])):
        writer.append(PdfReader(io.BytesIO(data)))
    buffer = io.BytesIO()
    writer.write(buffer)
    document = read_document(buffer.getvalue())
    assert [p.source for p in document.pages] == ["text-layer", "ocr"]
    assert [r.page for r in extractor.extract(document).results] == [1] * len(ROWS) + [2] * len(ROWS)


def test_blank_page_reads_as_no_text():
    document = read_document(encoded(Image.new("L", (1200, 1600), 255), "PNG"))
    assert document.text.strip() == ""


@pytest.mark.parametrize(("data", "error"), [
    (b"", EmptyDocument),
    (b"hello, this is not a document at all", UnreadableDocument),
    (bytes(random.Random(1).getrandbits(8) for _ in range(4096)), UnreadableDocument),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, UnreadableDocument),
    (b"%PDF-1.4\n%garbage that is not a PDF body\n", UnreadableDocument),
])
def test_bad_bytes_give_typed_errors(data, error):
    with pytest.raises(error) as raised:
        read_document(data)
    assert isinstance(raised.value, PipelineError) and isinstance(raised.value, FhirError)
    assert raised.value.diagnostics


def test_truncated_png(small_page):
    data = encoded(small_page, "PNG")
    with pytest.raises(UnreadableDocument):
        read_document(data[: len(data) // 2])


def test_pdf_without_pages():
    buffer = io.BytesIO()
    PdfWriter().write(buffer)
    assert media_type(buffer.getvalue()) == "application/pdf"
    with pytest.raises(EmptyDocument):
        read_document(buffer.getvalue())


def test_huge_image_is_refused_before_decoding():
    buffer = io.BytesIO()
    Image.new("1", (12_000, 12_000), 1).save(buffer, format="PNG")  # 144 megapixels, a few kB
    with pytest.raises(DocumentTooLarge) as raised:
        read_document(buffer.getvalue())
    assert raised.value.status == 413 and "pixels" in raised.value.diagnostics


def test_byte_and_page_caps(small_page):
    with pytest.raises(DocumentTooLarge, match="bytes"):
        read_document(encoded(small_page, "PNG"), OcrSettings(max_bytes=1000))
    with pytest.raises(DocumentTooLarge, match="pages"):
        read_document(text_pdf([ROWS, ROWS, ROWS]), OcrSettings(max_pages=2))


def test_missing_tesseract_is_a_typed_error(small_page):
    with pytest.raises(OcrUnavailable) as raised:
        read_document(encoded(small_page, "PNG"), OcrSettings(tesseract_cmd="/nonexistent/tesseract"))
    assert raised.value.status == 503 and "tesseract-ocr" in raised.value.diagnostics


def test_ocr_time_limit(small_page):
    with pytest.raises(OcrFailed, match="longer than"):
        read_document(encoded(small_page, "PNG"), OcrSettings(page_timeout_seconds=0.001))


def test_settings_are_checked():
    with pytest.raises(ValueError):
        OcrSettings(page_segmentation_mode=99)
