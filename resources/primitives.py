"""Checks for the R4 primitive types in their JSON form (https://hl7.org/fhir/R4/datatypes.html#primitive).

Each checker takes a value as `resources.fhir_json.loads` produces it and returns None when the value
is valid, else a short reason. The regular expressions come from the vendored StructureDefinitions
(the `regex` extension on each type's `value`), matched in full with ASCII classes as the
specification's Java-style expressions mean them; JSON types and numeric ranges are checked as the
JSON representation requires (https://hl7.org/fhir/R4/json.html#primitive).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from resources.xhtml import check_xhtml

__all__ = ["Checker", "checkers"]

Checker = Callable[[Any], "str | None"]

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
# base64Binary's own expression, `(\s*([0-9a-zA-Z\+/=]){4}\s*)+`, backtracks exponentially on long
# invalid input with line breaks; this atomic form accepts exactly the same strings in linear time.
BASE64 = re.compile(r"(?>\s*[0-9a-zA-Z+/=]{4}\s*)+", re.ASCII)


def _string_checker(name: str, pattern: re.Pattern[str] | None, calendar: bool) -> Checker:
    fullmatch = pattern.fullmatch if pattern is not None else None

    def check(value: Any) -> str | None:
        if type(value) is not str:
            return f"a {name} must be a JSON string, not {_json_type(value)}"
        if not value:
            return "empty strings are not allowed; leave the element out"
        if fullmatch is not None and fullmatch(value) is None:
            return f"'{_clip(value)}' is not a valid {name}"
        if calendar and len(value) >= 10 and not _real_day(value):
            return f"'{_clip(value)}' is not a valid {name}: no such day"
        return None

    return check


def _real_day(value: str) -> bool:
    try:
        date(int(value[0:4]), int(value[5:7]), int(value[8:10]))
    except ValueError:
        return False
    return True


def _boolean(value: Any) -> str | None:
    if type(value) is not bool:
        return f"a boolean must be JSON true or false, not {_json_type(value)}"
    return None


def _integer_checker(name: str, low: int) -> Checker:
    def check(value: Any) -> str | None:
        if type(value) is not int:
            return f"an {name} must be a JSON integer, not {_json_type(value)}"
        if value < low or value > INT32_MAX:
            return f"{value} is out of range for {name} ({low}..{INT32_MAX})"
        return None

    return check


def _decimal(value: Any) -> str | None:
    kind = type(value)
    if kind is Decimal:
        return None if value.is_finite() else f"{value} is not a decimal"
    if kind is int:
        return None
    return f"a decimal must be a JSON number, not {_json_type(value)}"


def _base64(value: Any) -> str | None:
    if type(value) is not str:
        return f"a base64Binary must be a JSON string, not {_json_type(value)}"
    if not value:
        return "empty strings are not allowed; leave the element out"
    if BASE64.fullmatch(value) is None:
        return "not valid base64 content"
    return None


def _xhtml(value: Any) -> str | None:
    if type(value) is not str:
        return f"xhtml must be a JSON string, not {_json_type(value)}"
    return check_xhtml(value)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return f"the float {value} (parse JSON with resources.fhir_json.loads)"
    if isinstance(value, Decimal):
        return f"the number {value}"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _clip(value: str) -> str:
    return value if len(value) <= 60 else value[:57] + "..."


def checkers(regexes: dict[str, str | None]) -> dict[str, Checker]:
    """A checker for each primitive type, given each type's regex from the definitions."""
    table: dict[str, Checker] = {
        "boolean": _boolean,
        "integer": _integer_checker("integer", INT32_MIN),
        "unsignedInt": _integer_checker("unsignedInt", 0),
        "positiveInt": _integer_checker("positiveInt", 1),
        "decimal": _decimal,
        "base64Binary": _base64,
        "xhtml": _xhtml,
    }
    for name, regex in regexes.items():
        if name not in table:
            pattern = re.compile(regex, re.ASCII) if regex else None
            table[name] = _string_checker(name, pattern, name in ("date", "dateTime", "instant"))
    return table
