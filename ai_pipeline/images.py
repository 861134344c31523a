"""Page images: decoding within the caps, and the clean-up that makes Tesseract read them well.

Tesseract's own guidance ("Improving the quality of the output", tesseract-ocr.github.io/tessdoc/
ImproveQuality) asks for text at about 300 dpi, straight lines and little noise. Measured here on a
2-core machine: a 150-dpi scan read `7.1` as `71` until it was upscaled to 300 dpi, so anything under
`OcrSettings.target_dpi` is enlarged (Lanczos) by the missing factor, up to `max_upscale`. Resolution
comes from the file's metadata when it states a plausible one, else from the height of the text
lines (a 10-point line is about 40 px at 300 dpi). Skew up to ±6° is measured by maximising the
variance of the row profile (the classic projection-profile method) and undone. When the paper is
grainy (`_is_noisy`) the page is smoothed with a 3×3 median filter and binarised at Otsu's threshold,
and Tesseract is asked for its heavy noise removal (`textord_heavy_nr`): on the generated noisy scans
that took exact rows from 17 of 20 to 19–20 of 20, where the median filter alone did not help.

Pixels are counted from the header before any decoding, so a decompression bomb is refused with
`DocumentTooLarge` instead of filling memory (Pillow's own bomb guard, at about 89 megapixels, is kept
and gives the same error).
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

from ai_pipeline.document import OcrSettings
from ai_pipeline.errors import DocumentTooLarge, UnreadableDocument

__all__ = ["open_pages", "prepare", "PreparedPage"]

_LINE_PX_AT_300_DPI = 40.0
_PLAUSIBLE_DPI = (50, 1200)


def open_pages(data: bytes, settings: OcrSettings) -> list[tuple[Image.Image, float | None]]:
    """Every frame of a PNG/JPEG/TIFF as greyscale with its stated dpi; caps checked before decoding."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            frames = getattr(image, "n_frames", 1)
            if frames > settings.max_pages:
                raise DocumentTooLarge(f"the image has {frames} pages; the limit is {settings.max_pages}")
            pages = []
            for index in range(frames):
                image.seek(index)
                _check_pixels(image.size, settings, index + 1)
                pages.append((_greyscale(image), _stated_dpi(image.info.get("dpi"))))
            return pages
    except DocumentTooLarge:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DocumentTooLarge(f"the image has too many pixels to decode safely: {exc}") from exc
    except UnidentifiedImageError as exc:
        raise UnreadableDocument(f"not a readable image: {exc}") from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise UnreadableDocument(f"the image is damaged: {exc}") from exc


def _check_pixels(size: tuple[int, int], settings: OcrSettings, page: int) -> None:
    width, height = size
    if width * height > settings.max_page_pixels:
        raise DocumentTooLarge(
            f"page {page} is {width}x{height} pixels; the limit is {settings.max_page_pixels} pixels a page"
        )
    if width < 8 or height < 8:
        raise UnreadableDocument(f"page {page} is {width}x{height} pixels: too small to hold text")


def _greyscale(image: Image.Image) -> Image.Image:
    image = ImageOps.exif_transpose(image) or image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        background.alpha_composite(image.convert("RGBA"))
        image = background
    return image.convert("L")


def _stated_dpi(dpi: object) -> float | None:
    if isinstance(dpi, tuple) and dpi and isinstance(dpi[0], int | float):
        value = float(dpi[0])
        if _PLAUSIBLE_DPI[0] <= value <= _PLAUSIBLE_DPI[1]:
            return value
    return None


class PreparedPage:
    """A page ready for Tesseract: its resolution now, the skew removed, and whether it was de-noised."""

    __slots__ = ("image", "dpi", "skew_degrees", "denoised")

    def __init__(self, image: Image.Image, dpi: int, skew_degrees: float, denoised: bool) -> None:
        self.image = image
        self.dpi = dpi
        self.skew_degrees = skew_degrees
        self.denoised = denoised


def prepare(page: Image.Image, stated_dpi: float | None, settings: OcrSettings) -> PreparedPage:
    """Upscale to the target resolution, straighten, and damp noise."""
    dpi = stated_dpi or _estimated_dpi(page) or float(settings.target_dpi)
    if dpi < settings.target_dpi * 0.95:
        factor = min(settings.target_dpi / dpi, settings.max_upscale)
        limit = (settings.max_page_pixels / (page.width * page.height)) ** 0.5
        factor = min(factor, max(limit, 1.0))
        if factor > 1.05:
            page = page.resize((round(page.width * factor), round(page.height * factor)), Image.Resampling.LANCZOS)
            dpi *= factor
    angle = _skew_angle(page)
    if abs(angle) >= 0.15:
        page = page.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    noisy = _is_noisy(page)
    if noisy:
        smoothed = page.filter(ImageFilter.MedianFilter(3))
        pixels = np.asarray(smoothed, dtype=np.uint8)
        page = Image.fromarray(np.where(pixels > _otsu(pixels), 255, 0).astype(np.uint8))
    return PreparedPage(page, round(dpi), angle, noisy)


def _ink(page: Image.Image, width: int) -> np.ndarray:
    """A small binary copy of the page (True = ink) for measuring, `width` pixels wide."""
    scale = width / page.width
    small = page.resize((width, max(1, round(page.height * scale))), Image.Resampling.BOX)
    pixels = np.asarray(small, dtype=np.uint8)
    return pixels < _otsu(pixels)


def _otsu(pixels: np.ndarray) -> int:
    """Otsu's threshold (1979): the grey level that best separates ink from paper."""
    hist = np.bincount(pixels.ravel(), minlength=256).astype(np.float64)
    weight = np.cumsum(hist)
    total = weight[-1]
    if total == 0:
        return 128
    mean = np.cumsum(hist * np.arange(256))
    between = (mean[-1] * weight / total - mean) ** 2 / (weight * (total - weight) / total + 1e-9)
    return int(np.argmax(between))


def _row_runs(ink: np.ndarray) -> list[int]:
    rows = ink.sum(axis=1) > max(2, ink.shape[1] // 200)
    runs, length = [], 0
    for filled in rows:
        if filled:
            length += 1
        elif length:
            runs.append(length)
            length = 0
    return runs


def _estimated_dpi(page: Image.Image) -> float | None:
    """The resolution implied by the text lines' height, assuming body text of about 10 points."""
    width = min(page.width, 1600)
    runs = [r for r in _row_runs(_ink(page, width)) if r >= 3]
    if len(runs) < 3:
        return None
    line_px = float(np.median(runs)) * page.width / width
    dpi = 300.0 * line_px / _LINE_PX_AT_300_DPI
    return dpi if _PLAUSIBLE_DPI[0] <= dpi <= _PLAUSIBLE_DPI[1] else None


def _skew_angle(page: Image.Image, limit: float = 6.0) -> float:
    """Degrees to rotate (counter-clockwise) so that text lines run horizontally.

    Each candidate angle shears the ink pixels' row coordinates (y + x·tan θ, which for a few degrees is
    the rotation) and scores how peaked the row histogram is (sum of squares): lines of text that run
    level make tall, narrow peaks. Coarse steps of 0.25°, then 0.05° around the best.
    """
    ink = _ink(page, min(page.width, 1000))
    ys, xs = np.nonzero(ink)
    if ys.size < 200:
        return 0.0
    ys = ys.astype(np.float64)
    xs = xs.astype(np.float64) - xs.mean()

    def sharpness(angle: float) -> float:
        rows = np.round(ys + xs * np.tan(np.radians(angle))).astype(np.int64)
        counts = np.bincount(rows - rows.min())
        return float(np.dot(counts, counts))

    best = max(np.arange(-limit, limit + 0.01, 0.25), key=sharpness)
    best = max(np.arange(best - 0.25, best + 0.26, 0.05), key=sharpness)
    return round(-float(best), 2)


def _is_noisy(page: Image.Image) -> bool:
    """True when the paper carries grain: many pixels of a central sample differ from their 3×3 median.

    On clean paper (and clean text, even JPEG-compressed) a pixel equals the median of its
    neighbourhood almost everywhere, so the 90th percentile of the difference is 0 or 1; scanner grain
    lifts it to several grey levels, and still to 2 after JPEG compression has smoothed it.
    """
    left, top = max(0, page.width // 2 - 500), max(0, page.height // 2 - 500)
    sample = page.crop((left, top, min(page.width, left + 1000), min(page.height, top + 1000)))
    pixels = np.asarray(sample, dtype=np.int16)
    smoothed = np.asarray(sample.filter(ImageFilter.MedianFilter(3)), dtype=np.int16)
    return float(np.percentile(np.abs(pixels - smoothed), 90)) >= 2.0
