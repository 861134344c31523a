"""Reporting periods: the measurement period's bounds and the month / quarter / year buckets.

The database groups discharges by calendar month (UTC), `YYYY-MM`; quarters (`YYYY-Qn`) and years
(`YYYY`) are sums of months, so one query serves every granularity.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from fhir_server.errors import BadRequest
from fhir_server.search.dates import parse_date_range

__all__ = ["Period", "GRANULARITIES", "bucket_of", "buckets_between", "parse_period", "default_period"]

GRANULARITIES = ("month", "quarter", "year")


@dataclass(frozen=True, slots=True)
class Period:
    """The measurement period: `start` and `end` as given, `low`/`high` inclusive epoch microseconds."""

    start: str
    end: str
    low: int
    high: int


def parse_period(start: str | None, end: str | None, *, default_years: int = 1) -> Period:
    """`periodStart` / `periodEnd` (FHIR dates or dateTimes); missing ones default to the last
    `default_years` full calendar years up to today."""
    if start is None or end is None:
        fallback = default_period(default_years)
        start, end = start or fallback.start, end or fallback.end
    try:
        low = parse_date_range(start)[0]
        high = parse_date_range(end)[1]
    except ValueError as exc:
        raise BadRequest(f"periodStart and periodEnd must be FHIR dates: {exc}") from exc
    if low > high:
        raise BadRequest(f"periodStart {start} is after periodEnd {end}")
    return Period(start, end, low, high)


def default_period(years: int = 1, *, today: date | None = None) -> Period:
    today = today or datetime.now(UTC).date()
    start, end = f"{today.year - years}-01-01", today.isoformat()
    return Period(start, end, parse_date_range(start)[0], parse_date_range(end)[1])


def bucket_of(month: str, granularity: str) -> str:
    """The bucket a `YYYY-MM` month falls in: itself, `YYYY-Qn` or `YYYY`."""
    if granularity == "month":
        return month
    year, number = month[:4], int(month[5:7])
    if granularity == "quarter":
        return f"{year}-Q{(number - 1) // 3 + 1}"
    if granularity == "year":
        return year
    raise BadRequest(f"period granularity must be one of {', '.join(GRANULARITIES)}, got '{granularity}'")


def buckets_between(period: Period, granularity: str) -> list[str]:
    """Every bucket the period touches, in order (so empty ones show as zero in a trend)."""
    first = datetime.fromtimestamp(period.low / 1_000_000, UTC) if period.low >= 0 else datetime(1970, 1, 1, tzinfo=UTC)
    last = datetime.fromtimestamp(min(period.high, 253402300799_000_000) / 1_000_000, UTC)
    out: list[str] = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        bucket = bucket_of(f"{year:04d}-{month:02d}", granularity)
        if not out or out[-1] != bucket:
            out.append(bucket)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        if len(out) > 1200:
            raise BadRequest("the period is too long for a trend (over 100 years)")
    return out
