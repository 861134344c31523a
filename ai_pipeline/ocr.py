"""Reading a document's text: the PDF text layer when there is one, Tesseract OCR for everything else.

    text = read_document(data)                 # DocumentText; raises a PipelineError subclass
    text = read_document(data, OcrSettings(max_pages=5))

Accepted: PNG, JPEG, TIFF (every frame a page) and PDF, recognised by their magic bytes, never by a
name or a declared media type. Caps (`OcrSettings`) are checked before any expensive step: the byte
count first, then pages and pixels from the headers. Each image page is prepared (`images.prepare`:
upscaled to 300 dpi, straightened, de-noised) and OCR'd with Tesseract in one-block mode
(`tesseract.recognise`); each PDF page uses its text layer, or is rendered and OCR'd like an image.
Time is capped per page and for the whole document (`OcrFailed`): each page gets what is left of the
document's time, at most the page limit.
"""

from __future__ import annotations

import time

from PIL import Image

from ai_pipeline.document import DocumentText, OcrSettings, PageText
from ai_pipeline.errors import DocumentTooLarge, EmptyDocument, OcrFailed, UnreadableDocument
from ai_pipeline.images import open_pages, prepare
from ai_pipeline.pdf import PdfDocument
from ai_pipeline.tesseract import recognise

__all__ = ["read_document", "media_type"]

_MAGIC = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
)


def media_type(data: bytes) -> str | None:
    """The document's media type from its first bytes (a PDF may start after a little junk), else None."""
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    if b"%PDF-" in data[:1024]:
        return "application/pdf"
    return None


class _TimeBudget:
    """The document's time limit, handed out page by page."""

    def __init__(self, settings: OcrSettings) -> None:
        self.settings = settings
        self.ends = time.monotonic() + settings.document_timeout_seconds

    def for_page(self, number: int) -> float:
        """Seconds page `number` may take; OcrFailed when the document's time is up."""
        left = self.ends - time.monotonic()
        if left <= 0:
            raise OcrFailed(f"reading the document took longer than its limit of "
                            f"{self.settings.document_timeout_seconds:g} s (stopped before page {number})")
        return min(self.settings.page_timeout_seconds, left)


def read_document(data: bytes, settings: OcrSettings | None = None) -> DocumentText:
    """Every page's text, with word confidences for OCR'd pages.

    Raises EmptyDocument, UnreadableDocument, DocumentTooLarge, OcrUnavailable or OcrFailed.
    """
    settings = settings or OcrSettings()
    budget = _TimeBudget(settings)
    if not data:
        raise EmptyDocument("the document is empty (0 bytes)")
    if len(data) > settings.max_bytes:
        raise DocumentTooLarge(f"the document is {len(data)} bytes; the limit is {settings.max_bytes}")
    kind = media_type(data)
    if kind is None:
        raise UnreadableDocument("not a PNG, JPEG, TIFF or PDF document")
    if kind == "application/pdf":
        return _read_pdf(data, settings, budget)
    pages = []
    for number, (image, dpi) in enumerate(open_pages(data, settings), start=1):
        pages.append(_ocr_page(image, dpi, number, settings, budget.for_page(number)))
    return DocumentText(tuple(pages))


def _read_pdf(data: bytes, settings: OcrSettings, budget: _TimeBudget) -> DocumentText:
    pdf = PdfDocument(data, settings)
    pages: list[PageText] = []
    for number in range(1, pdf.page_count + 1):
        started = time.perf_counter()
        text = pdf.text_layer(number)
        if text is not None:
            pages.append(PageText(number, text, "text-layer", seconds=time.perf_counter() - started))
        else:
            image = pdf.raster(number, budget.for_page(number))
            pages.append(_ocr_page(image, float(settings.target_dpi), number, settings, budget.for_page(number)))
    return DocumentText(tuple(pages))


def _ocr_page(image: Image.Image, dpi: float | None, number: int, settings: OcrSettings,
              timeout: float) -> PageText:
    started = time.perf_counter()
    prepared = prepare(image, dpi, settings)
    if prepared.image.width * prepared.image.height > settings.max_page_pixels * 1.01:
        raise DocumentTooLarge(f"page {number} is over the pixel limit after preparation")
    page = recognise(prepared.image, number=number, dpi=prepared.dpi, settings=settings, noisy=prepared.denoised,
                     timeout=timeout)
    return PageText(page.number, page.text, "ocr", page.words, prepared.dpi,
                    time.perf_counter() - started, prepared.skew_degrees, page.cpu_seconds)
