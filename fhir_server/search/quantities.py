"""UCUM canonical forms of quantities, shared by indexing and querying so both convert alike.

A quantity whose system is UCUM (`http://unitsofmeasure.org`) and whose code `terminology.ucum`
understands is also indexed in base units (`canonical_value`, `canonical_code`); a search value in
UCUM is converted the same way, with the range its digits imply (`5.4 mmol/L` is [5.35, 5.45) mmol/L,
so [5.35, 5.45) mol.m-3). Anything else (no system, another system, an unknown code) has no
canonical form and is compared by system and code as written.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fhir_server.search.query import QuantityValue
from terminology.ucum import UCUM_SYSTEM, UcumError, canonical

__all__ = ["UCUM_SYSTEM", "canonical_columns", "to_canonical"]


def canonical_columns(source: dict[str, Any]) -> tuple[float, str] | None:
    """(canonical value, canonical code) of a Quantity JSON object, or None."""
    value, code = source.get("value"), source.get("code")
    if source.get("system") != UCUM_SYSTEM or not isinstance(code, str) or isinstance(value, bool):
        return None
    if not isinstance(value, Decimal | int | float):
        return None
    try:
        found = canonical(value, code)
    except UcumError:
        return None
    return float(found.value), found.code


def to_canonical(value: QuantityValue) -> QuantityValue | None:
    """The search value in canonical units (prefix kept, system/code the canonical ones), or None.

    For `ap` the bounds are the approximate range itself (10% of the value as written, or its
    precision if wider), converted: 10% of 100 [degF] is 10 [degF], not 10% of 310.9 K."""
    if value.system != UCUM_SYSTEM or not value.code:
        return None
    low_text, high_text = Decimal(repr(value.low)), Decimal(repr(value.high))
    if value.prefix == "ap":
        margin = max(abs(value.value) / 10, high_text - value.value)
        low_text, high_text = value.value - margin, value.value + margin
    try:
        exact = canonical(value.value, value.code)
        low = canonical(low_text, value.code)
        high = canonical(high_text, value.code)
    except UcumError:
        return None
    return QuantityValue(value.prefix, exact.value, float(low.value), float(high.value), UCUM_SYSTEM, exact.code)
