"""The text of a document as the readers return it: pages, words and how sure the OCR was of each.

`DocumentText.text` is what the extraction reads. Every OCR word keeps its character span in that text
and its Tesseract confidence (0–100), so an extracted value can say how sure the reading was
(`confidence(start, end)`); text taken from a PDF's text layer is exact and carries confidence 100.
`OcrSettings` holds the caps and knobs; the service builds it from the server's Settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["OcrSettings", "Word", "PageText", "DocumentText", "TextSource"]

TextSource = Literal["text-layer", "ocr"]


@dataclass(frozen=True, slots=True)
class OcrSettings:
    """Caps and knobs for reading documents. Every size cap gives `DocumentTooLarge` when exceeded,
    a time limit `OcrFailed`. The server builds this from its Settings (`FHIR_AI_OCR_*`).

    `page_segmentation_mode` 6 (one uniform block) keeps a table row on one line; Tesseract's default 3
    splits columns into separate blocks and loses which value belongs to which test. Tesseract runs
    with `OMP_THREAD_LIMIT=1`: its OpenMP threads made a page 4–6× slower on a 2-core machine.
    """

    max_bytes: int = 25 * 1024 * 1024
    max_pages: int = 20
    max_page_pixels: int = 60_000_000
    target_dpi: int = 300
    max_upscale: float = 4.0
    page_timeout_seconds: float = 30.0
    # the whole document (every page's rendering and OCR): a 20-page scan must not hold a worker for 10 minutes
    document_timeout_seconds: float = 120.0
    tesseract_cmd: str = "tesseract"
    poppler_path: str | None = None
    language: str = "eng"
    page_segmentation_mode: int = 6
    min_text_layer_chars: int = 16
    review_below_confidence: float = 80.0

    def __post_init__(self) -> None:
        if self.page_segmentation_mode not in (3, 4, 6, 11, 12):
            raise ValueError(f"unsupported Tesseract page segmentation mode {self.page_segmentation_mode}")
        if min(self.max_bytes, self.max_pages, self.max_page_pixels, self.target_dpi, self.page_timeout_seconds,
               self.document_timeout_seconds) <= 0:
            raise ValueError("OCR caps must be positive")


@dataclass(frozen=True, slots=True)
class Word:
    """One word of the text: its span in `DocumentText.text`, the page it is on, and its confidence."""

    start: int
    end: int
    page: int
    confidence: float


@dataclass(frozen=True, slots=True)
class PageText:
    """One page as read: its text, how it was read, the resolution OCR ran at and how long it took.

    `seconds` is wall time (clean-up plus OCR); `cpu_seconds` the CPU time of the Tesseract process,
    which does not grow when the machine is busy (approximate if several pages are OCR'd at once).
    """

    number: int
    text: str
    source: TextSource
    words: tuple[tuple[int, int, float], ...] = ()
    dpi: int | None = None
    seconds: float = 0.0
    skew_degrees: float = 0.0
    cpu_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class DocumentText:
    """All pages joined with a blank line between them, and the words with spans in the joined text."""

    pages: tuple[PageText, ...]
    text: str = field(init=False)
    words: tuple[Word, ...] = field(init=False)

    def __post_init__(self) -> None:
        parts: list[str] = []
        words: list[Word] = []
        offset = 0
        for page in self.pages:
            parts.append(page.text)
            words.extend(Word(offset + start, offset + end, page.number, conf) for start, end, conf in page.words)
            offset += len(page.text) + 2
        object.__setattr__(self, "text", "\n\n".join(parts))
        object.__setattr__(self, "words", tuple(words))

    @property
    def source(self) -> TextSource | Literal["mixed"]:
        sources = {page.source for page in self.pages}
        return sources.pop() if len(sources) == 1 else "mixed"

    def page_of(self, offset: int) -> int:
        """The page number holding character `offset` of `text`."""
        position = 0
        for page in self.pages:
            position += len(page.text) + 2
            if offset < position:
                return page.number
        return self.pages[-1].number if self.pages else 1

    def confidence(self, start: int, end: int) -> float:
        """The lowest word confidence over text[start:end]: 100 for text-layer pages and unseen spans."""
        page = next((p for p in self.pages if p.number == self.page_of(start)), None)
        if page is None or page.source == "text-layer":
            return 100.0
        found = [w.confidence for w in self.words if w.start < end and w.end > start]
        return min(found) if found else 100.0
