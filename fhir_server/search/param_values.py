"""Parsing one search parameter's value text into typed values, per parameter type.

Follows https://hl7.org/fhir/R4/search.html: a comma separates alternatives (OR), `|` separates a
token's system and code or a quantity's number, system and code, `$` separates composite parts, and
a backslash escapes any of `\\ , | $` (§3.1.1.1.7 "Escaping Search Parameters"). Numbers, dates and
quantities may start with a prefix (`ge2024`, `lt5.4|http://unitsofmeasure.org|mg`).
Malformed values raise BadRequest naming the parameter.
"""

from __future__ import annotations

import re

from fhir_server.errors import BadRequest
from fhir_server.search.dates import parse_date_range
from fhir_server.search.numbers import number_range, parse_number
from fhir_server.search.query import (
    PREFIXES,
    DateValue,
    NumberValue,
    QuantityValue,
    ReferenceValue,
    TokenValue,
    Value,
)
from fhir_server.search.references import parse_reference

__all__ = ["split_escaped", "unescape", "parse_values", "split_prefix"]

_PREFIXED = re.compile(rf"({'|'.join(PREFIXES)})(?=[-+.\d])")
_ID = re.compile(r"[A-Za-z0-9\-\.]{1,64}")


def split_escaped(text: str, separator: str) -> list[str]:
    """Split on `separator` where it is not escaped; the parts keep their other escapes."""
    parts: list[str] = []
    current: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            current.append(text[index:index + 2])
            index += 2
            continue
        if char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    parts.append("".join(current))
    return parts


def unescape(text: str) -> str:
    return re.sub(r"\\([\\,|$])", r"\1", text)


def split_prefix(text: str) -> tuple[str, str]:
    """(`ge`, `2024`) for `ge2024`; (`eq`, text) when there is no prefix."""
    match = _PREFIXED.match(text)
    return (match[1], text[2:]) if match else ("eq", text)


def _date(name: str, text: str) -> DateValue:
    prefix, rest = split_prefix(text)
    try:
        low, high = parse_date_range(unescape(rest))
    except ValueError as exc:
        raise BadRequest(f"invalid date '{text}' for search parameter '{name}': {exc}") from exc
    return DateValue(prefix, low, high)


def _number(name: str, text: str) -> NumberValue:
    prefix, rest = split_prefix(text)
    try:
        number = parse_number(unescape(rest))
        _, low, high = number_range(number)
    except ValueError as exc:
        raise BadRequest(f"invalid number '{text}' for search parameter '{name}'") from exc
    return NumberValue(prefix, number, low, high)


def _quantity(name: str, text: str) -> QuantityValue:
    parts = split_escaped(text, "|")
    if len(parts) not in (1, 3):
        raise BadRequest(f"invalid quantity '{text}' for search parameter '{name}': "
                         "expected [prefix]number or [prefix]number|system|code")
    number = _number(name, parts[0])
    system = unescape(parts[1]) or None if len(parts) == 3 else None
    code = unescape(parts[2]) or None if len(parts) == 3 else None
    return QuantityValue(number.prefix, number.value, number.low, number.high, system, code)


def _token(name: str, text: str, modifier: str | None) -> TokenValue | str:
    if modifier in ("text", "in", "not-in"):  # text, or a value set's URL or reference
        return unescape(text)
    if modifier == "of-type":
        parts = split_escaped(text, "|")
        if len(parts) != 3 or not all(parts):
            raise BadRequest(f"'{name}:of-type' needs system|code|value, got '{text}'")
        return TokenValue(unescape(parts[0]), f"{unescape(parts[1])}|{unescape(parts[2])}")
    parts = split_escaped(text, "|")
    if len(parts) == 1:
        if modifier in ("above", "below"):
            raise BadRequest(f"'{name}' needs a code with its code system (system|code), got '{text}'")
        return TokenValue(None, unescape(parts[0]))
    if len(parts) == 2:
        system, code = unescape(parts[0]), unescape(parts[1])
        if not system and not code:
            raise BadRequest(f"invalid token '{text}' for search parameter '{name}'")
        if modifier in ("above", "below") and not (system and code):
            raise BadRequest(f"'{name}' needs a code with its code system (system|code), got '{text}'")
        return TokenValue(system, code or None)
    raise BadRequest(f"invalid token '{text}' for search parameter '{name}': more than one '|'")


def _reference(name: str, text: str, modifier: str | None) -> ReferenceValue | TokenValue | str:
    if modifier == "identifier":
        return _token(name, text, None)
    text = unescape(text)
    if _ID.fullmatch(text):
        return ReferenceValue(target_type=modifier, target_id=text)
    parsed = parse_reference(text)
    if parsed is None:
        raise BadRequest(f"invalid reference '{text}' for search parameter '{name}'")
    if parsed.target_type and modifier and parsed.target_type != modifier:
        raise BadRequest(f"reference '{text}' does not match the type modifier ':{modifier}' of '{name}'")
    return ReferenceValue(parsed.target_type, parsed.target_id, parsed.version, parsed.url)


def _missing(name: str, text: str) -> bool:
    if text not in ("true", "false"):
        raise BadRequest(f"':missing' takes true or false, got '{text}' for search parameter '{name}'")
    return text == "true"


def parse_values(name: str, param_type: str, modifier: str | None, text: str) -> tuple[Value, ...]:
    """The comma-separated alternatives of one value text, typed; empty parts are dropped."""
    if modifier == "missing":
        return (_missing(name, text),)
    values: list[Value] = []
    for part in split_escaped(text, ","):
        if not part:
            continue
        if param_type == "date":
            values.append(_date(name, part))
        elif param_type == "number":
            values.append(_number(name, part))
        elif param_type == "quantity":
            values.append(_quantity(name, part))
        elif param_type == "token":
            values.append(_token(name, part, modifier))
        elif param_type == "reference":
            values.append(_reference(name, part, modifier))
        else:  # string, uri
            values.append(unescape(part))
    return tuple(values)
