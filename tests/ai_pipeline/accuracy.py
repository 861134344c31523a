"""Field-exact extraction accuracy on generated lab reports, per variant; prints a table.

    .venv/bin/python -m tests.ai_pipeline.accuracy            # 5 reports per variant
    .venv/bin/python -m tests.ai_pipeline.accuracy --seeds 10

Every variant renders the same reports (20 results each, `report_samples.report_rows(seed)`), runs
them through `ocr.read_document` and `LabExtractor`, and compares (test LOINC, value text, UCUM unit,
flag) with what was printed. Scoring is strict: a row whose test is not found counts as wrong in all
four fields; extra results (not printed) are counted separately. OCR time is the mean per OCR'd page:
wall time (clean-up and OCR; grows when the machine is busy) and Tesseract's CPU time (does not).
Targets (the brief): ≥ 98 % on clean 300-dpi scans and text PDFs, ≥ 90 % on degraded scans,
≤ 3 s of OCR per page.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from PIL import Image

from ai_pipeline.document import DocumentText
from ai_pipeline.nlp.extraction import LabExtractor
from ai_pipeline.ocr import read_document
from tests.ai_pipeline.report_samples import (
    Row,
    encoded,
    image_pdf,
    noisy,
    render_page,
    report_rows,
    skewed,
    text_pdf,
)

FIELDS = ("test", "value", "unit", "flag")


def _png(page: Image.Image, dpi: int = 300) -> bytes:
    return encoded(page, "PNG", dpi=dpi)


def _no_metadata(page: Image.Image) -> bytes:
    buffer = io.BytesIO()
    page.save(buffer, format="PNG")
    return buffer.getvalue()


VARIANTS: dict[str, tuple[str, Callable[[list[Row], int], bytes]]] = {
    "clean PNG 300 dpi": ("clean", lambda rows, seed: _png(render_page(rows))),
    "clean TIFF 300 dpi": ("clean", lambda rows, seed: encoded(render_page(rows), "TIFF")),
    "clean JPEG 300 dpi": ("clean", lambda rows, seed: encoded(render_page(rows), "JPEG", quality=80)),
    "monospace PNG 300 dpi": ("clean", lambda rows, seed: _png(render_page(rows, mono=True))),
    "image-only PDF 300 dpi": ("clean", lambda rows, seed: image_pdf([render_page(rows)])),
    "text-layer PDF": ("text", lambda rows, seed: text_pdf([rows])),
    "skewed 2-3 deg": ("degraded", lambda rows, seed: _png(skewed(render_page(rows), 2.0 + (seed % 3) * 0.5 * (-1) ** seed))),
    "noisy (grain, specks)": ("degraded", lambda rows, seed: _png(noisy(render_page(rows), seed=seed))),
    "150 dpi": ("degraded", lambda rows, seed: _png(render_page(rows, dpi=150), dpi=150)),
    "150 dpi, no dpi metadata": ("degraded", lambda rows, seed: _no_metadata(render_page(rows, dpi=150))),
    "photocopy (skew+noise+JPEG)": ("degraded", lambda rows, seed: encoded(
        noisy(skewed(render_page(rows), -1.5), seed=seed, sigma=15, specks=300), "JPEG", quality=70)),
}


@dataclass
class Tally:
    """Counts for one variant."""

    rows: int = 0
    exact_rows: int = 0
    correct: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FIELDS, 0))
    extra: int = 0
    review: int = 0
    ocr_seconds: list[float] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)

    def percent(self, name: str) -> float:
        return 100.0 * self.correct[name] / self.rows if self.rows else 0.0

    @property
    def exact_percent(self) -> float:
        return 100.0 * self.exact_rows / self.rows if self.rows else 0.0


def score(rows: list[Row], document: DocumentText, extractor: LabExtractor, tally: Tally) -> None:
    """Add one document's comparison to `tally`."""
    found = extractor.extract(document)
    by_code = {}
    for result in found.results:
        by_code.setdefault(result.loinc, result)
    printed = {row.loinc for row in rows}
    tally.extra += sum(1 for result in found.results if result.loinc not in printed)
    tally.review += sum(1 for result in found.results if result.needs_review)
    tally.ocr_seconds.extend(page.seconds for page in document.pages if page.source == "ocr")
    tally.cpu_seconds.extend(page.cpu_seconds for page in document.pages if page.source == "ocr")
    for row in rows:
        tally.rows += 1
        result = by_code.get(row.loinc)
        if result is None:
            continue
        got = result.fields
        want = row.truth
        for name, a, b in zip(FIELDS, got, want, strict=True):
            tally.correct[name] += a == b
        tally.exact_rows += got == want


def measure(variants: list[str], seeds: list[int]) -> dict[str, Tally]:
    """Run the named variants over the reports of `seeds`."""
    extractor = LabExtractor()
    tallies = {}
    for name in variants:
        tally = Tally()
        make = VARIANTS[name][1]
        for seed in seeds:
            rows = report_rows(seed)
            score(rows, read_document(make(rows, seed)), extractor, tally)
        tallies[name] = tally
    return tallies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="reports per variant")
    args = parser.parse_args()
    seeds = list(range(1, args.seeds + 1))
    started = time.perf_counter()
    tallies = measure(list(VARIANTS), seeds)
    print(f"{'variant':30} {'group':9} {'rows':>5} {'test':>7} {'value':>7} {'unit':>7} {'flag':>7} "
          f"{'exact':>7} {'extra':>5} {'review':>6} {'wall s/page':>11} {'CPU s/page':>10}")
    for name, tally in tallies.items():
        wall = f"{statistics.mean(tally.ocr_seconds):.2f}" if tally.ocr_seconds else "-"
        cpu = f"{statistics.mean(tally.cpu_seconds):.2f}" if tally.cpu_seconds else "-"
        print(f"{name:30} {VARIANTS[name][0]:9} {tally.rows:5d} "
              + " ".join(f"{tally.percent(f):6.1f}%" for f in FIELDS)
              + f" {tally.exact_percent:6.1f}% {tally.extra:5d} {tally.review:6d} {wall:>11} {cpu:>10}")
    for group in ("clean", "text", "degraded"):
        members = [t for n, t in tallies.items() if VARIANTS[n][0] == group]
        rows = sum(t.rows for t in members)
        exact = sum(t.exact_rows for t in members)
        fields = ", ".join(f"{name} {100.0 * sum(t.correct[name] for t in members) / rows:.1f}%" for name in FIELDS)
        print(f"{group:9} rows exact: {exact}/{rows} = {100.0 * exact / rows:.1f}%; fields exact: {fields}")
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
