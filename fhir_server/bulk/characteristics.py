"""`Group.characteristic` as Patient search criteria, where this server's search can express them.

A characteristic says which Patient search parameter it is about by its `code`:

- a coding of `https://fhir-server.dev/fhir/CodeSystem/patient-search-parameter` whose code is the
  parameter's name (`gender`, `address-state`, `general-practitioner`, ...), or
- a well-known concept for a parameter: LOINC 46098-0 "Sex" and SNOMED CT 263495000 "Gender" (`gender`).

Its `value[x]` becomes the parameter's value: a CodeableConcept `system|code` or a `code` element's
bare code (several codings are alternatives; for a string parameter the codes, or else the text,
matched exactly), a boolean `true`/`false`, a Quantity `value` (with `|system|code` for quantity
parameters), a Range `ge low` and `le high`, a Reference `Type/id`. `exclude: true` is `:not` (token
parameters only). All characteristics must hold, as `Group.characteristic` says. Anything else (an
unknown code, a `period`, a value the parameter's type cannot take) is refused with 400 rather than
exported as a wider cohort than the group means.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fhir_server.errors import BadRequest
from fhir_server.search import SearchRegistry

__all__ = ["PARAMETER_SYSTEM", "characteristic_criteria"]

PARAMETER_SYSTEM = "https://fhir-server.dev/fhir/CodeSystem/patient-search-parameter"
WELL_KNOWN = {
    ("http://loinc.org", "46098-0"): "gender",
    ("http://snomed.info/sct", "263495000"): "gender",
}


def _refuse(group_id: str, index: int, why: str) -> BadRequest:
    return BadRequest(f"Group/{group_id}: characteristic[{index}] cannot be expressed as a Patient search: {why}",
                      code="not-supported")


def _parameter(code: Any) -> str | None:
    for coding in (code or {}).get("coding") or []:
        if not isinstance(coding, dict):
            continue
        system, value = coding.get("system"), coding.get("code")
        if system == PARAMETER_SYSTEM and isinstance(value, str):
            return value
        if (system, value) in WELL_KNOWN:
            return WELL_KNOWN[(system, value)]
    return None


def _token(concept: Any) -> str | None:
    codes = []
    for coding in (concept or {}).get("coding") or []:
        if isinstance(coding, dict) and coding.get("code"):
            code = str(coding["code"])
            # `|code` too: a `code` element (Patient.gender) is indexed without its value set's system
            codes.extend((f"{coding['system']}|{code}", f"|{code}") if coding.get("system") else (code,))
    return ",".join(codes) or None


def _number(quantity: Any, param_type: str) -> str | None:
    if not isinstance(quantity, dict) or quantity.get("value") is None:
        return None
    text = str(quantity["value"])
    if param_type == "quantity" and quantity.get("code"):
        text += f"|{quantity.get('system', '')}|{quantity['code']}"
    return text


def _text(concept: Any) -> str | None:
    texts = [str(c["code"]) for c in (concept or {}).get("coding") or [] if isinstance(c, dict) and c.get("code")]
    if not texts and isinstance((concept or {}).get("text"), str):
        texts = [concept["text"]]
    return ",".join(text.replace(",", "\\,") for text in texts) or None


def _values(characteristic: dict[str, Any], param_type: str) -> list[tuple[str, str]] | None:
    """(prefix, value) pairs, all of which must match; None when the value does not fit the type."""
    if "valueCodeableConcept" in characteristic and param_type == "string":
        text = _text(characteristic["valueCodeableConcept"])
        return [("", text)] if text else None
    if "valueCodeableConcept" in characteristic and param_type == "token":
        token = _token(characteristic["valueCodeableConcept"])
        return [("", token)] if token else None
    if "valueBoolean" in characteristic and param_type == "token":
        return [("", "true" if characteristic["valueBoolean"] else "false")]
    if "valueQuantity" in characteristic and param_type in ("number", "quantity"):
        number = _number(characteristic["valueQuantity"], param_type)
        return [("", number)] if number else None
    if "valueRange" in characteristic and param_type in ("number", "quantity"):
        bounds = characteristic["valueRange"] or {}
        pairs = [(prefix, value) for prefix, key in (("ge", "low"), ("le", "high"))
                 if (value := _number(bounds.get(key), param_type)) is not None]
        return pairs or None
    if "valueReference" in characteristic and param_type == "reference":
        reference = (characteristic["valueReference"] or {}).get("reference")
        return [("", reference)] if isinstance(reference, str) and reference else None
    return None


def characteristic_criteria(registry: SearchRegistry, group_id: str, group: dict[str, Any]) -> list[str]:
    """One `Patient?criteria` query text per characteristic of the group."""
    queries = []
    for index, characteristic in enumerate(group.get("characteristic") or []):
        if not isinstance(characteristic, dict):
            raise _refuse(group_id, index, "it is not an object")
        name = _parameter(characteristic.get("code"))
        param = registry.get("Patient", name) if name else None
        if param is None:
            raise _refuse(group_id, index, f"its code names no Patient search parameter (use a coding of "
                                           f"{PARAMETER_SYSTEM} with the parameter's name)")
        if characteristic.get("period"):
            raise _refuse(group_id, index, "a characteristic limited to a period")
        values = _values(characteristic, param.type)
        if values is None:
            raise _refuse(group_id, index, f"its value does not fit the {param.type} parameter '{name}'")
        modifier = ""
        if characteristic.get("exclude") is True:
            if param.type != "token" or len(values) != 1:
                raise _refuse(group_id, index, "exclude applies to coded (token) characteristics only")
            modifier = ":not"
        elif param.type == "string":
            modifier = ":exact"
        queries.append("&".join(f"{name}{modifier}={quote(prefix + value, safe='|,:/')}" for prefix, value in values))
    return queries
