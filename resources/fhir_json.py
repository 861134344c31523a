"""FHIR JSON in and out without losing what the client sent.

FHIR treats the digits of a decimal as significant (`1.50` is not `1.5`), so numbers with a fraction
or exponent are parsed into `decimal.Decimal` and written back with their original text; integers
stay `int`. No float ever appears in a parsed resource. Duplicate keys are refused, as the JSON
representation rules require (https://hl7.org/fhir/R4/json.html).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import orjson

__all__ = ["FhirJsonError", "loads", "dumps", "dumps_pretty"]


class FhirJsonError(ValueError):
    """The bytes are not a JSON document FHIR accepts."""


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise FhirJsonError(f"duplicate JSON property '{key}'")
            seen.add(key)
    return obj


def _reject_constant(name: str) -> Any:
    raise FhirJsonError(f"'{name}' is not a JSON number")


_decoder = json.JSONDecoder(
    object_pairs_hook=_object_without_duplicates,
    parse_float=Decimal,
    parse_constant=_reject_constant,
)


def loads(data: bytes | str) -> Any:
    """Parse JSON, keeping decimals exact; raises FhirJsonError on anything malformed."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes | bytearray | memoryview) else data
        if text.startswith("\ufeff"):
            text = text[1:]
        return _decoder.decode(text)
    except FhirJsonError:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise FhirJsonError(f"malformed JSON: {exc}") from exc


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        # keeps the client's digits: Decimal("1.50") prints as 1.50
        return orjson.Fragment(str(value))
    raise TypeError(f"cannot write {type(value).__name__} as FHIR JSON")


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=_default)


def dumps_pretty(value: Any) -> bytes:
    return orjson.dumps(value, default=_default, option=orjson.OPT_INDENT_2)
