"""AI pipeline extraction accuracy: per field (test, value, unit, flag), per kind of document.

    .venv/bin/python bench/ai_accuracy.py [--seeds 5]

Generates lab reports with known contents (20 results each) as clean 300-dpi scans (PNG, TIFF, JPEG,
monospace, image-only PDF), text-layer PDFs and degraded scans (skewed, noisy, 150 dpi with and without
dpi metadata, photocopied), reads them with the real Tesseract pipeline and prints the share of each
field read exactly, and OCR wall and CPU seconds per page. The generator and the scoring are the
test suite's (`tests/ai_pipeline/accuracy.py`, which `test_accuracy.py` holds to the targets).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.ai_pipeline.accuracy import main  # noqa: E402

if __name__ == "__main__":
    print(f"cores: {os.cpu_count()}  load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    main()
    print(f"load average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
