"""Typed values → index row columns, one function per search parameter type.

What each data type contributes follows https://hl7.org/fhir/R4/search.html: a HumanName indexes
its family, given, prefix, suffix and text as separate strings; a CodeableConcept one token per
coding plus its text; an Identifier system|value (and `:of-type` rows for its type codings);
dates their precision range; numbers and quantities the range their digits imply. Each function
yields `(suffix, columns)`: the suffix is appended to the parameter code for the auxiliary rows
other modifiers query (`identifier:of-type`, `subject:identifier`) and is "" for the plain rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from functools import lru_cache
from typing import Any

from fhir_server.search.dates import MAX_INSTANT, MIN_INSTANT, parse_date_range
from fhir_server.search.model import is_subtype
from fhir_server.search.normalize import normalize, truncate
from fhir_server.search.numbers import MAX_NUMBER, MIN_NUMBER, number_range
from fhir_server.search.paths import Typed
from fhir_server.search.quantities import canonical_columns
from fhir_server.search.references import parse_reference

__all__ = ["INDEXERS", "Indexed", "IndexOnce", "OF_TYPE", "IDENTIFIER", "URI_WIDTH", "may_index"]

Indexed = Iterator[tuple[str, str, dict[str, Any]]]  # (index kind, param suffix, columns)
OF_TYPE = ":of-type"
IDENTIFIER = ":identifier"
URI_WIDTH = 1024

_NAME_PARTS = ("family", "given", "prefix", "suffix", "text")
_ADDRESS_PARTS = ("line", "city", "district", "state", "postalCode", "country", "text")
_UCUM_CURRENCY = "urn:iso:std:iso:4217"


def _object(value: Any) -> dict[str, Any]:
    """`value` when it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def _texts(value: Any, keys: Iterable[str]) -> Iterator[str]:
    for key in keys:
        part = value.get(key)
        if isinstance(part, str):
            yield part
        elif isinstance(part, list):
            yield from (item for item in part if isinstance(item, str))


def _strings_of(value: Any, kind: str) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif not isinstance(value, dict):
        return
    elif kind == "HumanName":
        yield from _texts(value, _NAME_PARTS)
    elif kind == "Address":
        yield from _texts(value, _ADDRESS_PARTS)
    elif kind == "CodeableConcept":
        yield from _texts(value, ("text",))
        for coding in value.get("coding") or ():
            yield from _texts(coding, ("display",))
    elif kind == "Coding":
        yield from _texts(value, ("display",))
    elif kind in ("Annotation", "Narrative"):
        yield from _texts(value, ("text", "div"))
    elif kind in ("Identifier", "ContactPoint"):
        yield from _texts(value, ("value",))


def index_string(values: list[Typed]) -> Indexed:
    for value, kind in values:
        for text in _strings_of(value, kind):
            norm = truncate(normalize(text))
            if norm:
                yield "string", "", {"value_norm": norm, "value_exact": text}


# the columns of recurring values (a lab's codes, a patient's reference), built once: the dicts are
# shared, as `IndexOnce` shares them, and callers copy them into their rows
_RECURRING = 8192


def _token(system: Any, code: Any, text: Any = None) -> dict[str, Any]:
    try:
        return _recurring_token(system, code, text)
    except TypeError:  # an unhashable part (a malformed coding): nothing to keep
        return _token_columns(system, code, text)


def _token_columns(system: Any, code: Any, text: Any) -> dict[str, Any]:
    return {
        "system": truncate(system) if isinstance(system, str) and system else None,
        "code": truncate(code) if isinstance(code, str) and code else None,
        "text_norm": (truncate(normalize(text)) or None) if isinstance(text, str) else None,
    }


_recurring_token = lru_cache(maxsize=_RECURRING)(_token_columns)


def _coding_token(coding: Any) -> dict[str, Any] | None:
    if not isinstance(coding, dict) or not (coding.get("code") or coding.get("display")):
        return None
    return _token(coding.get("system"), coding.get("code"), coding.get("display"))


def index_token(values: list[Typed]) -> Indexed:
    for value, kind in values:
        if isinstance(value, bool):
            yield "token", "", _token(None, "true" if value else "false")
        elif isinstance(value, str):
            yield "token", "", _token(None, value)
        elif not isinstance(value, dict):
            continue
        elif kind == "Coding":
            if (row := _coding_token(value)) is not None:
                yield "token", "", row
        elif kind == "CodeableConcept":
            for coding in value.get("coding") or ():
                if (row := _coding_token(coding)) is not None:
                    yield "token", "", row
            if isinstance(value.get("text"), str):
                yield "token", "", _token(None, None, value["text"])
        elif kind == "Identifier":
            yield from _identifier_tokens(value, "")
        elif kind == "ContactPoint" and isinstance(value.get("value"), str):
            yield "token", "", _token(value.get("system"), value["value"])


def _identifier_tokens(identifier: dict[str, Any], suffix: str) -> Indexed:
    id_value = identifier.get("value")
    id_type = _object(identifier.get("type"))
    if isinstance(id_value, str) or identifier.get("system"):
        yield "token", suffix, _token(identifier.get("system"), id_value, id_type.get("text"))
    if not suffix and isinstance(id_value, str):
        # `identifier:of-type=type-system|type-code|value` (https://hl7.org/fhir/R4/search.html#token)
        for coding in id_type.get("coding") or ():
            if isinstance(coding, dict) and isinstance(coding.get("code"), str):
                yield "token", OF_TYPE, _token(coding.get("system"), f"{coding['code']}|{id_value}")


def _date_range(value: Any, kind: str) -> tuple[int, int] | None:
    try:
        if isinstance(value, str):
            return parse_date_range(value)
        if kind == "Period" and isinstance(value, dict):
            start, end = value.get("start"), value.get("end")
            if not isinstance(start, str) and not isinstance(end, str):
                return None
            low = parse_date_range(start)[0] if isinstance(start, str) else MIN_INSTANT
            high = parse_date_range(end)[1] if isinstance(end, str) else MAX_INSTANT
            return low, high
        if kind == "Timing" and isinstance(value, dict):
            ranges = [parse_date_range(event) for event in value.get("event") or () if isinstance(event, str)]
            bounds = (value.get("repeat") or {}).get("boundsPeriod")
            if isinstance(bounds, dict) and (found := _date_range(bounds, "Period")) is not None:
                ranges.append(found)
            if ranges:
                return min(low for low, _ in ranges), max(high for _, high in ranges)
    except ValueError:
        return None
    return None


def index_date(values: list[Typed]) -> Indexed:
    for value, kind in values:
        found = _date_range(value, kind)
        if found is not None:
            yield "date", "", {"low": found[0], "high": found[1]}


def _number(value: Any) -> tuple[float, float, float] | None:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return None
    try:
        found = number_range(value)
    except ValueError:
        return None
    return found if all(math.isfinite(part) for part in found) else None


def _range_bounds(value: dict[str, Any]) -> tuple[float, float, float, dict[str, Any]] | None:
    """(point, low, high, unit source) of a Range; the point is its low end (else its high end)."""
    low_q, high_q = _object(value.get("low")), _object(value.get("high"))
    low, high = _number(low_q.get("value")), _number(high_q.get("value"))
    if low is not None:
        return low[0], low[0], high[0] if high else MAX_NUMBER, low_q
    if high is not None:
        return high[0], MIN_NUMBER, high[0], high_q
    return None


def index_number(values: list[Typed]) -> Indexed:
    for value, kind in values:
        if kind == "Range" and isinstance(value, dict):
            bounds = _range_bounds(value)
            if bounds is not None:
                yield "number", "", {"value": bounds[0], "low": bounds[1], "high": bounds[2]}
        elif (found := _number(value)) is not None:
            yield "number", "", {"value": found[0], "low": found[1], "high": found[2]}


def _quantity_columns(value: float, low: float, high: float, source: dict[str, Any],
                      canonical: tuple[float, str] | None = None) -> dict[str, Any]:
    return {
        "value": value, "low": low, "high": high,
        "system": truncate(source["system"]) if isinstance(source.get("system"), str) else None,
        "code": truncate(source["code"]) if isinstance(source.get("code"), str) else None,
        "unit": truncate(source["unit"]) if isinstance(source.get("unit"), str) else None,
        "canonical_value": canonical[0] if canonical else None,
        "canonical_code": truncate(canonical[1]) if canonical else None,
    }


def index_quantity(values: list[Typed]) -> Indexed:
    for value, kind in values:
        if not isinstance(value, dict):
            continue
        if kind == "Range":
            bounds = _range_bounds(value)
            if bounds is not None:
                yield "quantity", "", _quantity_columns(*bounds, canonical_columns(bounds[3]))
        elif kind == "Money":
            found = _number(value.get("value"))
            if found is not None:
                currency = {"system": _UCUM_CURRENCY, "code": value.get("currency")}
                yield "quantity", "", _quantity_columns(*found, currency)
        elif is_subtype(kind, "Quantity") or kind == "":
            found = _number(value.get("value"))
            if found is not None:
                yield "quantity", "", _quantity_columns(*found, value, canonical_columns(value))


@lru_cache(maxsize=_RECURRING)
def _reference_columns(text: str) -> dict[str, Any] | None:
    parsed = parse_reference(text)
    if parsed is None:
        return None
    return {
        "target_type": parsed.target_type, "target_id": parsed.target_id,
        "target_version": parsed.version, "url": truncate(parsed.url, URI_WIDTH) if parsed.url else None,
    }


def index_reference(values: list[Typed]) -> Indexed:
    for value, _kind in values:
        if isinstance(value, str):
            columns = _reference_columns(value)
            if columns is not None:
                yield "reference", "", columns
        elif isinstance(value, dict) and "resourceType" not in value:
            text = value.get("reference")
            if isinstance(text, str) and (columns := _reference_columns(text)) is not None:
                yield "reference", "", columns
            identifier = value.get("identifier")
            if isinstance(identifier, dict):
                yield from _identifier_tokens(identifier, IDENTIFIER)


def index_uri(values: list[Typed]) -> Indexed:
    for value, _kind in values:
        if isinstance(value, str) and value:
            yield "uri", "", {"value": truncate(value, URI_WIDTH)}


INDEXERS: dict[str, Callable[[list[Typed]], Indexed]] = {
    "string": index_string,
    "token": index_token,
    "date": index_date,
    "number": index_number,
    "quantity": index_quantity,
    "reference": index_reference,
    "uri": index_uri,
}


def may_index(kind: str, type_name: str) -> bool:
    """False when a value of FHIR type `type_name` never gives a `kind` row (a SampledData no quantity
    row); True when it may."""
    if kind == "quantity":
        return type_name in ("Range", "Money") or is_subtype(type_name, "Quantity")
    return True


class IndexOnce:
    """`INDEXERS[kind](values)` for the expressions of one resource, each of its JSON objects indexed
    once per kind and type: several parameters read the same element (a component's valueQuantity is
    read by component-value-quantity and component-code-value-quantity; a subject by subject and
    patient).

    Keyed by the object's identity, and keeping the object, so that the key cannot be reused by
    another; the columns are shared, so callers copy them into their rows."""

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        self._seen: dict[tuple[str, int, str], tuple[Any, tuple[tuple[str, str, dict[str, Any]], ...]]] = {}

    def __call__(self, kind: str, values: list[Typed]) -> list[tuple[str, str, dict[str, Any]]]:
        index = INDEXERS[kind]
        found: list[tuple[str, str, dict[str, Any]]] = []
        for typed in values:
            value = typed[0]
            if type(value) is not dict:  # a primitive: as cheap to index again as to look up
                found.extend(index([typed]))
                continue
            key = (kind, id(value), typed[1])
            known = self._seen.get(key)
            if known is None or known[0] is not value:
                known = self._seen[key] = (value, tuple(index([typed])))
            found.extend(known[1])
        return found
