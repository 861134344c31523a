"""FHIR dates, dateTimes and instants as the inclusive range of epoch microseconds they cover.

A date value stands for an interval set by its precision (https://hl7.org/fhir/R4/search.html#date):
`2024` is the whole year, `2024-03` the month, `2024-03-05T10:00` the minute, `...:05.12` a
hundredth of a second. A value without a zone is taken as UTC. Ranges are inclusive at both ends:
`high` is one microsecond before the next interval starts. Open ends (a Period without an end) use
`MIN_INSTANT` / `MAX_INSTANT`.
"""

from __future__ import annotations

import re

__all__ = ["parse_date_range", "MIN_INSTANT", "MAX_INSTANT", "MICROS_PER_DAY"]

MICROS_PER_SECOND = 1_000_000
MICROS_PER_DAY = 86_400 * MICROS_PER_SECOND
# far beyond year 9999 both ways, still well inside a signed 64-bit integer
MIN_INSTANT = -(2**62)
MAX_INSTANT = 2**62

_DATE = re.compile(
    r"(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})"
    r"(?:T(?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.(?P<f>\d+))?)?(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?"
)


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146_097 + day_of_era - 719_468


def _days_in_month(year: int, month: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _offset_micros(zone: str | None) -> int:
    if not zone or zone == "Z":
        return 0
    hours, minutes = int(zone[1:3]), int(zone[4:6])
    if hours > 14 or minutes > 59:
        raise ValueError(f"'{zone}' is not a time-zone offset")
    sign = 1 if zone[0] == "+" else -1
    return sign * (hours * 3600 + minutes * 60) * MICROS_PER_SECOND


def parse_date_range(text: str) -> tuple[int, int]:
    """(low, high) inclusive epoch microseconds; raises ValueError on anything not a FHIR date/time."""
    match = _DATE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"'{text}' is not a FHIR date, dateTime or instant")
    y, m, d, h, mi, s, fraction, zone = match.groups()  # one call: a load parses a date per resource
    year = int(y)
    month = int(m or 1)
    day = int(d or 1)
    hour, minute, second = int(h or 0), int(mi or 0), int(s or 0)
    if not 1 <= month <= 12 or not 1 <= day <= _days_in_month(year, month):
        raise ValueError(f"'{text}' is not a valid date")
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError(f"'{text}' is not a valid time")
    fraction = fraction or ""
    micros = int((fraction + "000000")[:6]) if fraction else 0
    start_day = _days_from_civil(year, month, day)
    low = (start_day * 86_400 + hour * 3600 + minute * 60 + second) * MICROS_PER_SECOND + micros
    low -= _offset_micros(zone)
    if m is None:
        span = (_days_from_civil(year + 1, 1, 1) - start_day) * MICROS_PER_DAY
    elif d is None:
        span = _days_in_month(year, month) * MICROS_PER_DAY
    elif h is None:
        span = MICROS_PER_DAY
    elif s is None:
        span = 60 * MICROS_PER_SECOND
    elif not fraction:
        span = MICROS_PER_SECOND
    else:
        span = 10 ** max(0, 6 - len(fraction))
    return low, low + span - 1
