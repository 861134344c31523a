"""The mortality table as CSV (RFC 4180), the same numbers the MeasureReport and dashboard show.

Columns: stratifier, key (a reference, `system|code` or period bucket), label, period (the bucket of
trend and period rows), denominator, numerator, rate (deaths per stay, 4 decimals), suppressed. A
suppressed row leaves the counts and rate empty. Cells that a spreadsheet would run as a formula
(starting with =, +, - or @) are prefixed with a quote.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from fhir_server.analytics.table import MortalityTable

__all__ = ["to_csv", "HEADER"]

HEADER = ("stratifier", "key", "label", "period", "denominator", "numerator", "rate", "suppressed")


def _safe(text: str) -> str:
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def to_csv(table: MortalityTable, stratifiers: Iterable[str] | None = None) -> str:
    wanted = None if stratifiers is None else set(stratifiers) | {"total"}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    for row in table.rows:
        if wanted is not None and row.stratifier not in wanted:
            continue
        rate = row.rate
        writer.writerow((row.stratifier, _safe(row.key or ""), _safe(row.label), row.bucket or "",
                         "" if row.total is None else row.total, "" if row.deaths is None else row.deaths,
                         "" if rate is None else f"{rate:.4f}", "true" if row.suppressed else "false"))
    return out.getvalue()
