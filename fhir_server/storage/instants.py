"""Instants as integer microseconds since the Unix epoch, and their FHIR `instant` text."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

__all__ = ["now_micros", "to_instant", "to_http_date", "from_datetime", "to_datetime", "parse_range", "EPOCH"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def now_micros() -> int:
    return time.time_ns() // 1000


def to_datetime(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


def from_datetime(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def to_instant(micros: int) -> str:
    """`2026-11-23T09:52:05.688123+00:00`: full precision, so `_since` with it finds the version again."""
    return to_datetime(micros).isoformat(timespec="microseconds")


def to_http_date(micros: int) -> str:
    return to_datetime(micros).strftime("%a, %d %b %Y %H:%M:%S GMT")


_PARTIAL = re.compile(
    r"(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})(?:T(?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?P<f>\.\d+)?)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?"
)


def parse_range(text: str) -> tuple[int, int]:
    """A FHIR date, dateTime or instant as the inclusive microsecond range its precision covers.

    `2024` covers the whole year, `2024-03-05T10:00` the whole minute. Without a zone, UTC is assumed.
    Raises ValueError when the text is not such a value.
    """
    match = _PARTIAL.fullmatch(text.strip().replace(" ", "+"))
    if not match:
        raise ValueError(f"'{text}' is not a FHIR date, dateTime or instant")
    parts = match.groupdict()
    year = int(parts["y"])
    month = int(parts["m"] or 1)
    day = int(parts["d"] or 1)
    hour = int(parts["H"] or 0)
    minute = int(parts["M"] or 0)
    second = int(parts["S"] or 0)
    fraction = parts["f"] or ""
    micros = int((fraction[1:] + "000000")[:6]) if fraction else 0
    tz = parts["tz"]
    offset = timedelta(0)
    if tz and tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        offset = sign * timedelta(hours=int(tz[1:3]), minutes=int(tz[4:6]))
    try:
        start = datetime(year, month, day, hour, minute, second, micros, tzinfo=UTC) - offset
    except ValueError as exc:
        raise ValueError(f"'{text}' is not a valid date: {exc}") from exc
    if parts["m"] is None:
        end = datetime(year + 1, 1, 1, tzinfo=UTC) - offset
    elif parts["d"] is None:
        end = (datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)) - offset
    elif parts["H"] is None:
        end = start + timedelta(days=1)
    elif parts["S"] is None:
        end = start + timedelta(minutes=1)
    elif not fraction:
        end = start + timedelta(seconds=1)
    else:
        digits = len(fraction) - 1
        end = start + timedelta(microseconds=10 ** max(0, 6 - digits)) if digits < 6 else start + timedelta(microseconds=1)
    return from_datetime(start), from_datetime(end) - 1
