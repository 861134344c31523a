"""Running the Tesseract binary on one page and reading back its words with their confidences.

The page goes to `tesseract stdin stdout --psm N --dpi D -l eng tsv` as PNG on standard input, and the
TSV answer (Tesseract's `tsv` output: level, page/block/paragraph/line/word numbers, box, `conf`,
`text`) comes back on standard output; no temporary files. The child gets `OMP_THREAD_LIMIT=1` in its
own environment. That is why this calls the binary itself rather than through `pytesseract`, which
passes the parent's `os.environ` to every child: setting the variable there would change it for the
whole server process. Words are joined into lines in Tesseract's reading order, so a table row stays
one line; each word's span and confidence are kept for `DocumentText.confidence`.
"""

from __future__ import annotations

import io
import os
import resource
import subprocess
import time
from functools import cache

from PIL import Image

from ai_pipeline.document import OcrSettings, PageText
from ai_pipeline.errors import OcrFailed, OcrUnavailable

__all__ = ["recognise", "tesseract_version"]


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env["OMP_THREAD_LIMIT"] = "1"
    return env


@cache
def tesseract_version(command: str = "tesseract") -> str:
    """The installed Tesseract's version (e.g. "5.3.0"); OcrUnavailable when the binary is missing."""
    try:
        done = subprocess.run([command, "--version"], capture_output=True, timeout=20, env=_environment(),
                              check=False)
    except (FileNotFoundError, PermissionError) as exc:
        raise OcrUnavailable(f"the Tesseract OCR binary '{command}' is not installed (Debian: tesseract-ocr)") from exc
    except subprocess.TimeoutExpired as exc:
        raise OcrFailed(f"'{command} --version' did not answer") from exc
    first = (done.stdout or done.stderr).decode("utf-8", "replace").strip().splitlines()
    if done.returncode != 0 or not first:
        raise OcrUnavailable(f"'{command}' does not run: {done.stderr.decode('utf-8', 'replace')[:200]}")
    return first[0].split()[-1].lstrip("v")


def recognise(image: Image.Image, *, number: int, dpi: int, settings: OcrSettings, noisy: bool = False,
              timeout: float | None = None) -> PageText:
    """OCR one prepared page; OcrUnavailable without the binary, OcrFailed on a crash or timeout.

    `noisy` turns on Tesseract's heavy noise removal (`-c textord_heavy_nr=1`) for grainy scans;
    `timeout` (seconds) defaults to `settings.page_timeout_seconds`.
    """
    timeout = settings.page_timeout_seconds if timeout is None else timeout
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    command = [
        settings.tesseract_cmd, "stdin", "stdout", "--psm", str(settings.page_segmentation_mode),
        "--dpi", str(dpi), "-l", settings.language,
    ]
    if noisy:
        command += ["-c", "textord_heavy_nr=1"]
    command.append("tsv")
    started, cpu_before = time.perf_counter(), _children_cpu()
    try:
        done = subprocess.run(command, input=buffer.getvalue(), capture_output=True, env=_environment(),
                              timeout=timeout, check=False)
    except (FileNotFoundError, PermissionError) as exc:
        raise OcrUnavailable(
            f"the Tesseract OCR binary '{settings.tesseract_cmd}' is not installed (Debian: tesseract-ocr)"
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise OcrFailed(f"OCR of page {number} took longer than {timeout:g} s") from exc
    seconds, cpu = time.perf_counter() - started, _children_cpu() - cpu_before
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip()
        if "Failed loading language" in message or "Error opening data file" in message:
            raise OcrUnavailable(f"Tesseract has no '{settings.language}' language data: {message[:200]}")
        raise OcrFailed(f"Tesseract failed on page {number}: {message[:300]}")
    text, words = _lines(done.stdout.decode("utf-8", "replace"))
    return PageText(number, text, "ocr", words, dpi, seconds, cpu_seconds=cpu)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _lines(tsv: str) -> tuple[str, tuple[tuple[int, int, float], ...]]:
    """Tesseract TSV to text (one line per Tesseract line) and (start, end, confidence) per word."""
    out: list[str] = []
    words: list[tuple[int, int, float]] = []
    line_key: tuple[str, ...] | None = None
    length = 0
    for row in tsv.splitlines()[1:]:
        cells = row.split("\t")
        if len(cells) < 12 or cells[0] != "5":
            continue
        word = cells[11].strip()
        if not word:
            continue
        key = (cells[1], cells[2], cells[3], cells[4])
        if line_key is not None and key != line_key:
            out.append("\n")
            length += 1
        elif line_key is not None:
            out.append(" ")
            length += 1
        line_key = key
        try:
            confidence = max(0.0, float(cells[10]))
        except ValueError:
            confidence = 0.0
        words.append((length, length + len(word), confidence))
        out.append(word)
        length += len(word)
    return "".join(out), tuple(words)
