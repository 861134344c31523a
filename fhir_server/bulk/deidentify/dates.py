"""Dates in de-identified output: reduced to the year (Safe Harbor), or shifted by whole days.

Safe Harbor keeps only the year of any date tied to a person: a `date` or `dateTime` becomes
`YYYY`, an `instant` (which must carry a time) `YYYY-01-01T00:00:00Z`. Date shifting moves a value
by the patient's offset in days and keeps its precision (`2024-03` stays a month, a time keeps its
zone). A value that cannot be read is dropped rather than passed through.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

__all__ = ["year_only", "shift", "year_of"]

_YEAR = re.compile(r"^(\d{4})")


def _timespec(text: str) -> str:
    """The precision of a dateTime's time part, so a shifted value keeps it."""
    time = text[11:]
    fraction = re.match(r"\d{2}:\d{2}:\d{2}\.(\d+)", time)
    if fraction:
        return "milliseconds" if len(fraction[1]) <= 3 else "microseconds"
    return "seconds" if re.match(r"\d{2}:\d{2}:\d{2}", time) else "minutes"


def year_of(text: str) -> int | None:
    match = _YEAR.match(text)
    return int(match[1]) if match else None


def year_only(text: str, type_code: str) -> str | None:
    year = year_of(text)
    if year is None:
        return None
    return f"{year:04d}-01-01T00:00:00Z" if type_code == "instant" else f"{year:04d}"


def shift(text: str, days: int) -> str | None:
    try:
        if len(text) == 4:
            return f"{(date(int(text), 1, 1) + timedelta(days=days)).year:04d}"
        if len(text) == 7:
            moved = date(int(text[:4]), int(text[5:7]), 1) + timedelta(days=days)
            return f"{moved.year:04d}-{moved.month:02d}"
        if len(text) == 10:
            return (date.fromisoformat(text) + timedelta(days=days)).isoformat()
        moved_at = datetime.fromisoformat(text.replace("Z", "+00:00")) + timedelta(days=days)
        out = moved_at.isoformat(timespec=_timespec(text))
        return out.replace("+00:00", "Z") if text.endswith("Z") else out
    except ValueError:
        return None
