"""The mortality figures as one flat table: what the MeasureReport, CSV, `$mortality` and the dashboard show.

Each `Row` is one stratum of one stratifier: the totals (`total`), a dimension (`attending`,
`department`, `location`, `condition`), a period granularity (`month`, `quarter`, `year`: every
bucket of the period, empty ones as zero), or a trend (`department-quarter`: each key's buckets).
Suppressed rows keep their key and label but carry no counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from fhir_server.analytics.mortality import DIMENSIONS, Cell, Key, MortalityCounts, Subject, months_by
from fhir_server.analytics.periods import GRANULARITIES, Period, bucket_of, buckets_between
from fhir_server.analytics.suppression import suppressed_keys

__all__ = ["Row", "MortalityTable", "build_table", "NO_VALUE_LABELS", "STRATIFIER_TITLES"]

NO_VALUE_LABELS = {"attending": "no attending recorded", "department": "no department recorded",
                   "location": "no location recorded", "condition": "no condition recorded"}
STRATIFIER_TITLES = {"total": "All inpatient stays", "attending": "Attending practitioner",
                     "department": "Department", "location": "Location at discharge",
                     "condition": "Principal condition", "month": "Month of discharge",
                     "quarter": "Quarter of discharge", "year": "Year of discharge"}


@dataclass(frozen=True, slots=True)
class Row:
    stratifier: str
    key: Key
    label: str
    bucket: str | None  # the period bucket of a trend row (and of month/quarter/year rows)
    total: int | None  # None: suppressed
    deaths: int | None
    suppressed: bool = False

    @property
    def rate(self) -> float | None:
        if self.total is None or self.deaths is None or self.total == 0:
            return None
        return self.deaths / self.total


@dataclass(slots=True)
class MortalityTable:
    period: Period
    subject: Subject | None
    minimum_cell: int | None  # set when small cells were suppressed
    rows: list[Row] = field(default_factory=list)

    def stratifier(self, name: str) -> list[Row]:
        return [row for row in self.rows if row.stratifier == name]

    @property
    def overall(self) -> Row:
        return self.stratifier("total")[0]


def _row(stratifier: str, key: Key, label: str, bucket: str | None, cell: Cell, hidden: bool) -> Row:
    if hidden:
        return Row(stratifier, key, label, bucket, None, None, True)
    return Row(stratifier, key, label, bucket, cell.total, cell.deaths)


def _label(dimension: str, key: Key, labels: Mapping[str, str], displays: Mapping[str, str]) -> str:
    if key is None:
        return NO_VALUE_LABELS[dimension]
    if dimension == "condition":
        return displays.get(key) or key.rpartition("|")[2]
    return labels.get(key, key)


def build_table(counts: MortalityCounts, period: Period, *, subject: Subject | None = None,
                labels: Mapping[str, str] | None = None, minimum_cell: int | None = None,
                trend: tuple[str, str] | None = None) -> MortalityTable:
    """The table of `counts`; `minimum_cell` suppresses small strata; `trend` = (dimension,
    granularity) adds that dimension's strata per bucket (`department-quarter` rows)."""
    labels = labels or {}
    minimum = minimum_cell or 0
    table = MortalityTable(period, subject, minimum_cell)
    overall = counts.total()
    table.rows.append(_row("total", None, STRATIFIER_TITLES["total"], None, overall,
                           0 < overall.total < minimum))
    hidden_keys: dict[str, set[Key]] = {}
    for dimension in DIMENSIONS:
        totals = {key: counts.stratum_total(dimension, key) for key in counts.strata[dimension]}
        hidden = suppressed_keys({k: c.total for k, c in totals.items()}, minimum)
        hidden_keys[dimension] = hidden  # type: ignore[assignment]
        for key, cell in sorted(totals.items(), key=lambda item: (-item[1].total, str(item[0]))):
            table.rows.append(_row(dimension, key, _label(dimension, key, labels, counts.displays), None, cell,
                                   key in hidden))
    for granularity in GRANULARITIES:
        by_bucket = months_by(counts.months, lambda month, g=granularity: bucket_of(month, g))
        buckets = buckets_between(period, granularity)
        hidden = suppressed_keys({b: by_bucket.get(b, Cell()).total for b in buckets}, minimum)
        for bucket in buckets:
            table.rows.append(_row(granularity, bucket, bucket, bucket, by_bucket.get(bucket, Cell()),
                                   bucket in hidden))
    if trend is not None:
        table.rows.extend(_trend(counts, period, trend, labels, minimum, hidden_keys))
    return table


def _trend(counts: MortalityCounts, period: Period, trend: tuple[str, str], labels: Mapping[str, str],
           minimum: int, hidden_keys: dict[str, set[Key]]) -> list[Row]:
    dimension, granularity = trend
    name = f"{dimension}-{granularity}"
    buckets = buckets_between(period, granularity)
    rows = []
    strata = counts.strata[dimension]
    for key in sorted(strata, key=lambda k: -counts.stratum_total(dimension, k).total):
        by_bucket = months_by(strata[key], lambda month: bucket_of(month, granularity))
        cells = {bucket: by_bucket.get(bucket, Cell()) for bucket in buckets}
        hidden = (set(buckets) if key in hidden_keys[dimension]
                  else suppressed_keys({b: c.total for b, c in cells.items()}, minimum))
        label = _label(dimension, key, labels, counts.displays)
        rows.extend(_row(name, key, label, bucket, cell, bucket in hidden) for bucket, cell in cells.items())
    return rows
