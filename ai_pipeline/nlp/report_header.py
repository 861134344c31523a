"""Specimen and collection time: the header lines that say what was sampled and when.

Reports print them once for the whole report (`Specimen: Serum   Collected: 14/05/2024 08:30`) or once
per section (a serum block, then a urine block). Each header found is kept with its position, and a
result takes the nearest header above it (or the first one in the document when none is above).
Dates are read as ISO (`2024-05-14 08:30`), numeric (`14/05/2024`, day first unless told otherwise)
or with a month name (`14-May-2024`); a time without a zone stays naive, and the FHIR builders decide
how to write it (a dateTime with hours needs a zone).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

__all__ = ["Header", "find_headers", "header_for", "parse_when"]

_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}
_WHEN = (
    r"(?P<when>\d{4}-\d{1,2}-\d{1,2}(?:[ T]+\d{1,2}[:.]\d{2}(?::\d{2})?)?"
    r"|\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}(?:[ ,]+\d{1,2}[:.]\d{2}(?::\d{2})?)?"
    r"|\d{1,2}[ \-](?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*[ \-]\d{2,4}"
    r"(?:[ ,]+\d{1,2}[:.]\d{2}(?::\d{2})?)?)"
)
_COLLECTED = re.compile(
    r"\b(?:collected|collection(?:\s+(?:date|time|date/time|date\s*&\s*time))?|date\s+collected|sampled"
    r"|sample\s+(?:date|taken|collected)|taken)\b(?:\s+(?:on|at))?[\s:.\-]*" + _WHEN,
    re.IGNORECASE,
)
_SPECIMEN = re.compile(
    r"\b(?:specimen|sample)(?:\s+type)?\s*[:\-]\s*(?P<what>[A-Za-z]+(?: [A-Za-z]+){0,2}?)"
    r"(?=\s*$|\s*[^A-Za-z\s]|\s{2,}|\s+(?:collected|received|taken|sampled|date|time|lab)\b)",
    re.IGNORECASE | re.MULTILINE,
)


@dataclass(frozen=True, slots=True)
class Header:
    """A specimen or collection-time statement and where it is in the text."""

    position: int
    specimen: str | None = None
    collected: datetime | date | None = None


def parse_when(text: str, *, day_first: bool = True) -> datetime | date | None:
    """A date or naive date-time from a report's text, or None when it is not a real date."""
    text = text.strip().replace(",", " ")
    time_part = re.search(r"(\d{1,2})[:.](\d{2})(?::(\d{2}))?$", text)
    date_text = text[:time_part.start()].strip() if time_part else text
    try:
        if re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}", date_text.rstrip("T ")):
            year, month, day = (int(x) for x in date_text.rstrip("T ").split("-"))
        elif named := re.fullmatch(r"(\d{1,2})[ \-]([a-z]{3})[a-z]*[ \-](\d{2,4})", date_text, re.IGNORECASE):
            day, month, year = int(named.group(1)), _MONTHS[named.group(2).lower()], int(named.group(3))
        elif numeric := re.fullmatch(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2,4})", date_text):
            first, second, year = int(numeric.group(1)), int(numeric.group(2)), int(numeric.group(3))
            day, month = (first, second) if day_first else (second, first)
        else:
            return None
        if year < 100:
            year += 2000
        if time_part is None:
            return date(year, month, day)
        return datetime(year, month, day, int(time_part.group(1)), int(time_part.group(2)),
                        int(time_part.group(3) or 0))
    except (ValueError, KeyError):
        return None


def find_headers(text: str, *, day_first: bool = True) -> list[Header]:
    """Every specimen and collection-time statement in `text`, in order."""
    headers = [Header(m.start(), specimen=m.group("what").strip().title()) for m in _SPECIMEN.finditer(text)]
    for match in _COLLECTED.finditer(text):
        when = parse_when(match.group("when"), day_first=day_first)
        if when is not None:
            headers.append(Header(match.start(), collected=when))
    return sorted(headers, key=lambda h: h.position)


def header_for(headers: list[Header], position: int) -> tuple[str | None, datetime | date | None]:
    """The specimen and collection time in force at `position`: the nearest above, else the first."""
    specimen = next((h.specimen for h in reversed(headers) if h.position <= position and h.specimen), None)
    collected = next((h.collected for h in reversed(headers) if h.position <= position and h.collected), None)
    if specimen is None:
        specimen = next((h.specimen for h in headers if h.specimen), None)
    if collected is None:
        collected = next((h.collected for h in headers if h.collected), None)
    return specimen, collected
