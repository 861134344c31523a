"""Synthetic lab reports with known contents: the ground truth for the OCR and extraction tests.

The catalogue below is written independently of `ai_pipeline/nlp/lab_tests.json` (codes typed from
the LOINC long common names, units in UCUM), so a slip in the lexicon shows up as a failed match here
rather than being copied into the expected values. Reports are drawn with Pillow at a chosen
resolution (DejaVu Sans when installed, else Pillow's bundled font), then degraded the ways scans are:
skew, noise, low resolution, JPEG compression, image-only PDF. `text_pdf` writes the same rows as a
PDF with a real text layer (fpdf2).
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

A4_INCHES = (8.27, 11.69)
_FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")


@dataclass(frozen=True, slots=True)
class Analyte:
    """One printable test: label variants, LOINC code, printed unit and its UCUM code, reference range."""

    labels: tuple[str, ...]
    loinc: str
    unit: str
    ucum: str
    low: Decimal | None
    high: Decimal | None
    decimals: int
    span: tuple[float, float]


def _a(labels: tuple[str, ...], loinc: str, unit: str, ucum: str, low: str | None, high: str | None,
       decimals: int, span: tuple[float, float]) -> Analyte:
    return Analyte(labels, loinc, unit, ucum, Decimal(low) if low else None, Decimal(high) if high else None,
                   decimals, span)


CATALOGUE: tuple[Analyte, ...] = (
    _a(("Creatinine", "Serum creatinine"), "14682-9", "umol/L", "umol/L", "45", "90", 0, (40, 420)),
    _a(("Creatinine",), "2160-0", "mg/dL", "mg/dL", "0.60", "1.20", 2, (0.5, 4.5)),
    _a(("eGFR (CKD-EPI 2021)",), "98979-8", "mL/min/1.73m2", "mL/min/{1.73_m2}", "60", None, 0, (8, 110)),
    _a(("Urea",), "22664-7", "mmol/L", "mmol/L", "2.5", "7.8", 1, (2.0, 30.0)),
    _a(("Urea nitrogen (BUN)", "BUN"), "3094-0", "mg/dL", "mg/dL", "7", "20", 0, (5, 80)),
    _a(("Sodium",), "2951-2", "mmol/L", "mmol/L", "133", "146", 0, (118, 152)),
    _a(("Potassium",), "2823-3", "mmol/L", "mmol/L", "3.5", "5.3", 1, (2.8, 7.2)),
    _a(("Chloride",), "2075-0", "mmol/L", "mmol/L", "95", "108", 0, (88, 115)),
    _a(("Bicarbonate",), "1963-8", "mmol/L", "mmol/L", "22", "29", 0, (12, 34)),
    _a(("Glucose (fasting)", "Fasting glucose"), "14771-0", "mmol/L", "mmol/L", "3.9", "5.5", 1, (3.5, 14.0)),
    _a(("Glucose (random)", "Glucose"), "14749-6", "mmol/L", "mmol/L", "3.9", "7.7", 1, (3.5, 20.0)),
    _a(("Fasting glucose",), "1558-6", "mg/dL", "mg/dL", "70", "99", 0, (60, 250)),
    _a(("HbA1c",), "4548-4", "%", "%", "4.0", "5.6", 1, (4.5, 11.5)),
    _a(("HbA1c (IFCC)", "HbA1c"), "59261-8", "mmol/mol", "mmol/mol", "20", "41", 0, (28, 100)),
    _a(("Haemoglobin", "Hemoglobin"), "718-7", "g/L", "g/L", "130", "170", 0, (65, 185)),
    _a(("Hemoglobin", "Haemoglobin"), "718-7", "g/dL", "g/dL", "12.0", "15.5", 1, (6.5, 18.5)),
    _a(("White cell count", "WBC"), "6690-2", "x10^9/L", "10*9/L", "4.0", "11.0", 1, (1.5, 25.0)),
    _a(("Platelets", "Platelet count"), "777-3", "x10^9/L", "10*9/L", "150", "400", 0, (40, 700)),
    _a(("ALT",), "1742-6", "U/L", "U/L", "0", "40", 0, (8, 400)),
    _a(("AST",), "1920-8", "U/L", "U/L", "0", "40", 0, (8, 400)),
    _a(("Alkaline phosphatase", "ALP"), "6768-6", "U/L", "U/L", "30", "130", 0, (20, 600)),
    _a(("Bilirubin (total)", "Total bilirubin"), "14631-6", "umol/L", "umol/L", "0", "21", 0, (3, 120)),
    _a(("Albumin",), "1751-7", "g/L", "g/L", "35", "50", 0, (18, 52)),
    _a(("CRP", "C-reactive protein"), "1988-5", "mg/L", "mg/L", None, "5", 0, (1, 300)),
    _a(("Troponin T (hs)",), "67151-1", "ng/L", "ng/L", None, "14", 0, (3, 900)),
    _a(("TSH",), "3016-3", "mIU/L", "m[IU]/L", "0.27", "4.20", 2, (0.05, 25.0)),
    _a(("Total cholesterol", "Cholesterol"), "14647-2", "mmol/L", "mmol/L", None, "5.0", 1, (2.8, 9.0)),
    _a(("HDL cholesterol",), "14646-4", "mmol/L", "mmol/L", "1.0", None, 2, (0.6, 2.4)),
    _a(("LDL cholesterol",), "22748-8", "mmol/L", "mmol/L", None, "3.0", 1, (1.0, 6.5)),
    _a(("Triglycerides",), "14927-8", "mmol/L", "mmol/L", None, "1.7", 1, (0.5, 6.0)),
    _a(("Urine ACR", "Albumin/creatinine ratio"), "32294-1", "mg/mmol", "mg/mmol", None, "3.0", 1, (0.3, 90.0)),
    _a(("Lactate",), "2524-7", "mmol/L", "mmol/L", "0.5", "2.2", 1, (0.6, 8.0)),
)


@dataclass(frozen=True, slots=True)
class Row:
    """One printed result row and what a perfect reader extracts from it."""

    label: str
    value: str
    flag: str
    unit: str
    reference: str
    loinc: str
    ucum: str

    @property
    def truth(self) -> tuple[str, str, str, str]:
        """(test, value, unit, flag): the fields the accuracy figures compare; a blank flag reads as N."""
        return (self.loinc, self.value, self.ucum, self.flag or "N")


def _reference_text(analyte: Analyte) -> str:
    if analyte.low is not None and analyte.high is not None:
        return f"{analyte.low} - {analyte.high}"
    if analyte.high is not None:
        return f"< {analyte.high}"
    return f"> {analyte.low}"


def _flag(analyte: Analyte, value: Decimal) -> str:
    if analyte.high is not None and value > analyte.high:
        return "HH" if analyte.loinc == "2823-3" and value >= Decimal("6.5") else "H"
    if analyte.low is not None and value < analyte.low:
        return "LL" if analyte.loinc == "2951-2" and value < Decimal("125") else "L"
    return ""


_FAMILY = {"14682-9": "creatinine", "2160-0": "creatinine", "14771-0": "glucose", "14749-6": "glucose",
           "1558-6": "glucose", "4548-4": "hba1c", "59261-8": "hba1c", "22664-7": "urea", "3094-0": "urea"}


def report_rows(seed: int, count: int = 20) -> list[Row]:
    """`count` rows drawn from the catalogue (no test twice), values and flags consistent with ranges."""
    rng = random.Random(seed)
    picked: list[Analyte] = []
    seen: set[str] = set()
    for analyte in rng.sample(CATALOGUE, len(CATALOGUE)):
        family = _FAMILY.get(analyte.loinc, analyte.loinc)
        if family in seen:
            continue
        seen.add(family)
        picked.append(analyte)
        if len(picked) == count:
            break
    rows = []
    for analyte in picked:
        number = Decimal(str(round(rng.uniform(*analyte.span), analyte.decimals)))
        value = f"{number:.{analyte.decimals}f}"
        rows.append(Row(rng.choice(analyte.labels), value, _flag(analyte, Decimal(value)), analyte.unit,
                        _reference_text(analyte), analyte.loinc, analyte.ucum))
    return rows


def _font(size_px: int, mono: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = _FONT_DIR / ("DejaVuSansMono.ttf" if mono else "DejaVuSans.ttf")
    if path.exists():
        return ImageFont.truetype(str(path), size_px)
    return ImageFont.load_default(size=size_px)


HEADER_LINES = (
    "ST ELSEWHERE GENERAL HOSPITAL - DEPARTMENT OF CLINICAL BIOCHEMISTRY",
    "Patient: OKAFOR, Adaeze      DOB: 04/03/1961      Sex: F      MRN: 00412345",
    "Specimen: Serum      Collected: 14/05/2024 08:30      Received: 14/05/2024 09:05",
)
FOOTER_LINES = (
    "Comment: No evidence of acute kidney injury. Possible early CKD; mother had type 2 diabetes.",
    "Authorised by: Dr J. Smith, Consultant Chemical Pathologist",
)
COLUMNS_INCHES = (0.0, 2.5, 3.5, 4.0, 5.4)


def render_page(rows: list[Row], *, dpi: int = 300, mono: bool = False, point_size: float = 10.0) -> Image.Image:
    """A4 page in greyscale with header, the result table and a comment, at `dpi`."""
    width, height = int(A4_INCHES[0] * dpi), int(A4_INCHES[1] * dpi)
    page = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(page)
    font = _font(round(point_size / 72 * dpi), mono)
    left, y = int(0.7 * dpi), int(0.8 * dpi)
    pitch = int(point_size / 72 * dpi * 1.75)
    for line in HEADER_LINES:
        draw.text((left, y), line, font=font, fill=0)
        y += pitch
    y += pitch
    table = [("Test", "Result", "Flag", "Units", "Reference range")]
    table += [(r.label, r.value, r.flag, r.unit, r.reference) for r in rows]
    for cells in table:
        for x, text in zip(COLUMNS_INCHES, cells, strict=True):
            draw.text((left + int(x * dpi), y), text, font=font, fill=0)
        y += pitch
    y += pitch
    for line in FOOTER_LINES:
        draw.text((left, y), line, font=font, fill=0)
        y += pitch
    return page


def skewed(page: Image.Image, degrees: float) -> Image.Image:
    """The page rotated as a crooked sheet on a scanner glass."""
    return page.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)


def noisy(page: Image.Image, *, seed: int, sigma: float = 25.0, specks: int = 1200, blur: float = 0.7) -> Image.Image:
    """Scanner noise: a slight blur, grain (Gaussian noise), dust specks and a grey cast."""
    rng = random.Random(seed)
    out = page.filter(ImageFilter.GaussianBlur(blur))
    grain = Image.effect_noise(out.size, sigma)
    out = Image.blend(out, grain, 0.25)
    draw = ImageDraw.Draw(out)
    width, height = out.size
    for _ in range(specks):
        x, y, r = rng.randrange(width), rng.randrange(height), rng.choice((1, 1, 2))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=rng.choice((0, 60, 255)))
    return out.point(lambda v: 35 + v * 200 // 255)


def encoded(page: Image.Image, fmt: str, *, dpi: int = 300, quality: int = 85) -> bytes:
    """The page as PNG, JPEG or TIFF bytes with its resolution recorded."""
    buffer = io.BytesIO()
    options: dict[str, object] = {"dpi": (dpi, dpi)}
    if fmt == "JPEG":
        options["quality"] = quality
    if fmt == "TIFF":
        options["compression"] = "tiff_lzw"
    page.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def image_pdf(pages: list[Image.Image], *, dpi: int = 300) -> bytes:
    """A scanned-style PDF: each page one image, no text layer (Pillow's PDF writer)."""
    buffer = io.BytesIO()
    pages[0].save(buffer, format="PDF", resolution=float(dpi), save_all=True, append_images=pages[1:])
    return buffer.getvalue()


def text_pdf(pages: list[list[Row]]) -> bytes:
    """A born-digital PDF with a text layer: the same header, table and comment per page (fpdf2)."""
    from fpdf import FPDF

    pdf = FPDF(format="A4", unit="in")
    font_path = _FONT_DIR / "DejaVuSans.ttf"
    if font_path.exists():
        pdf.add_font("body", fname=str(font_path))
        family = "body"
    else:
        family = "helvetica"
    for rows in pages:
        pdf.add_page()
        pdf.set_font(family, size=10)
        y = 0.8
        for line in HEADER_LINES:
            pdf.text(0.7, y, line)
            y += 0.25
        y += 0.25
        table = [("Test", "Result", "Flag", "Units", "Reference range")]
        table += [(r.label, r.value, r.flag, r.unit, r.reference) for r in rows]
        for cells in table:
            for x, text in zip(COLUMNS_INCHES, cells, strict=True):
                if text:
                    pdf.text(0.7 + x, y, text)
            y += 0.25
        y += 0.25
        for line in FOOTER_LINES:
            pdf.text(0.7, y, line)
            y += 0.25
    return bytes(pdf.output())


def letter_page(*, dpi: int = 300) -> Image.Image:
    """A page of prose with no lab results (a clinic letter)."""
    page = Image.new("L", (int(A4_INCHES[0] * dpi), int(A4_INCHES[1] * dpi)), 255)
    draw = ImageDraw.Draw(page)
    font = _font(round(11 / 72 * dpi))
    lines = (
        "Dear Dr Patel,",
        "",
        "Thank you for referring this pleasant gentleman, whom I saw in clinic today.",
        "He reports good exercise tolerance and sleeps well. He walks his dog every morning",
        "and has taken up cycling. We discussed his holiday plans and travel insurance.",
        "I have not arranged any further appointments and have discharged him to your care.",
        "",
        "Yours sincerely,",
        "Dr A. Brown",
    )
    y = int(1.0 * dpi)
    for line in lines:
        draw.text((int(0.8 * dpi), y), line, font=font, fill=0)
        y += int(0.3 * dpi)
    return page
