"""Numbers with the range their significant digits imply (https://hl7.org/fhir/R4/search.html#number).

`100` stands for [99.5, 100.5), `100.00` for [99.995, 100.005), `1e2` for [50, 150): half a unit of
the last significant digit either side. Values arrive as `decimal.Decimal` (or int) from the FHIR
JSON parser, so the digits the client wrote are still there.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

__all__ = ["NumberRange", "number_range", "parse_number", "MIN_NUMBER", "MAX_NUMBER"]

# stand-ins for an open end (a Range without high), finite so they survive JSON and every database
MIN_NUMBER = -1e300
MAX_NUMBER = 1e300

NumberRange = tuple[float, float, float]

_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def number_range(value: Decimal | int) -> NumberRange:
    """(value, low, high) as floats; low/high are half a unit of the last significant digit away."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    if isinstance(value, int):
        return float(value), value - 0.5, value + 0.5
    if not value.is_finite():
        raise ValueError(f"'{value}' is not a finite number")
    exponent = int(value.as_tuple().exponent)  # finite decimals have an integer exponent
    half = Decimal(5).scaleb(exponent - 1)
    return float(value), float(value - half), float(value + half)


def parse_number(text: str) -> Decimal:
    """A search value's number, keeping its digits; ValueError when it is not one."""
    text = text.strip()
    if not _NUMBER.fullmatch(text):
        raise ValueError(f"'{text}' is not a number")
    try:
        return Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only valid decimals
        raise ValueError(f"'{text}' is not a number") from exc
