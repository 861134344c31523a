"""What can go wrong reading a document, as part of the server's one error tree (`fhir_server.errors`).

    FhirError
     └── PipelineError            422  processing   the pipeline could not do its work
          ├── UnreadableDocument  422  invalid      not a PNG/JPEG/TIFF/PDF, or corrupt
          ├── EmptyDocument       422  required     no bytes, or a PDF without pages
          ├── DocumentTooLarge    413  too-costly   over the byte, page or pixel caps (OcrSettings)
          ├── OcrUnavailable      503  exception    the Tesseract or poppler binaries are not installed
          └── OcrFailed           500  exception    the OCR engine crashed or ran past its time limit

Dependencies' errors (Pillow, pypdf, pdf2image, the tesseract process) are turned into these where
they enter (`raise UnreadableDocument(...) from exc`), so nothing above the readers sees them. A job
runner records `diagnostics`; the HTTP layer, if a document ever comes in over HTTP, turns them into an
OperationOutcome like any other FhirError.
"""

from __future__ import annotations

from fhir_server.errors import FhirError

__all__ = [
    "PipelineError", "UnreadableDocument", "EmptyDocument", "DocumentTooLarge", "OcrUnavailable", "OcrFailed",
]


class PipelineError(FhirError):
    """Root of the AI pipeline's errors."""

    status, code = 422, "processing"


class UnreadableDocument(PipelineError):
    """The bytes are not a document the pipeline reads (PNG, JPEG, TIFF, PDF), or it is damaged."""

    code = "invalid"


class EmptyDocument(PipelineError):
    """There is nothing to read: no bytes, or a PDF with no pages."""

    code = "required"


class DocumentTooLarge(PipelineError):
    """The document is over one of the configured caps (bytes, pages, pixels per page)."""

    status, code = 413, "too-costly"


class OcrUnavailable(PipelineError):
    """An OCR binary (tesseract, pdftoppm/pdfinfo) is missing: an installation problem, not the document's."""

    status, code = 503, "exception"


class OcrFailed(PipelineError):
    """The OCR engine failed on this page or exceeded its time limit."""

    status, code = 500, "exception"
