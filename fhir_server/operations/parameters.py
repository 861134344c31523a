"""Operation inputs and outputs as FHIR `Parameters` (https://hl7.org/fhir/R4/operations.html).

An operation's inputs come from the URL (GET, or POST with a form) or from a `Parameters` body
(POST); `OperationInput` gives typed access to them, checked against the operation's
`OperationDefinition` so unknown, missing and repeated parameters are refused with a 400.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from fhir_server.errors import BadRequest

__all__ = ["OperationInput", "parse_query_parameters", "parse_parameters_body", "to_parameters", "PRIMITIVE_KEYS"]

# Parameters.parameter.value[x] for the primitive types an operation can take in a URL
PRIMITIVE_KEYS = {
    "boolean": "valueBoolean", "integer": "valueInteger", "decimal": "valueDecimal", "string": "valueString",
    "code": "valueCode", "uri": "valueUri", "canonical": "valueCanonical", "url": "valueUrl", "date": "valueDate",
    "dateTime": "valueDateTime", "instant": "valueInstant", "id": "valueId", "positiveInt": "valuePositiveInt",
    "unsignedInt": "valueUnsignedInt", "oid": "valueOid", "uuid": "valueUuid", "markdown": "valueMarkdown",
}


@dataclass(slots=True)
class OperationInput:
    """Named inputs; each is a list of `Parameters.parameter` entries (dicts with one value[x], a
    `resource`, or `part`)."""

    entries: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def has(self, name: str) -> bool:
        return bool(self.entries.get(name))

    def all(self, name: str) -> list[dict[str, Any]]:
        return self.entries.get(name, [])

    def value(self, name: str, default: Any = None) -> Any:
        """The value of a single-valued primitive input (whichever value[x] it carries)."""
        found = self.entries.get(name)
        if not found:
            return default
        return _value_of(found[0], name)

    def values(self, name: str) -> list[Any]:
        return [_value_of(entry, name) for entry in self.entries.get(name, [])]

    def resource(self, name: str) -> dict[str, Any] | None:
        found = self.entries.get(name)
        return found[0].get("resource") if found else None

    def complex(self, name: str) -> Any:
        """A complex-typed value (valueCoding, valueCodeableConcept...)."""
        found = self.entries.get(name)
        return _value_of(found[0], name) if found else None

    def check(self, definition: dict[str, Any]) -> None:
        """Refuse inputs the OperationDefinition does not declare, and missing or repeated ones."""
        declared = {p["name"]: p for p in definition.get("parameter", []) if p.get("use") == "in"}
        for name, given in self.entries.items():
            spec = declared.get(name)
            if spec is None:
                raise BadRequest(f"${definition['code']} has no input parameter '{name}'", code="not-supported")
            if spec.get("max", "*") != "*" and len(given) > int(spec["max"]):
                raise BadRequest(f"${definition['code']}: '{name}' may be given at most {spec['max']} time(s)")
        for name, spec in declared.items():
            if spec.get("min", 0) > 0 and not self.entries.get(name):
                raise BadRequest(f"${definition['code']} needs the parameter '{name}'", code="required")


def _value_of(entry: dict[str, Any], name: str) -> Any:
    for key, value in entry.items():
        if key.startswith("value"):
            return value
    if "resource" in entry:
        return entry["resource"]
    if "part" in entry:
        return entry["part"]
    raise BadRequest(f"parameter '{name}' carries no value")


def _typed(text: str, fhir_type: str, name: str) -> Any:
    if fhir_type == "boolean":
        if text not in ("true", "false"):
            raise BadRequest(f"parameter '{name}' must be true or false, got '{text}'")
        return text == "true"
    if fhir_type in ("integer", "positiveInt", "unsignedInt"):
        try:
            return int(text)
        except ValueError as exc:
            raise BadRequest(f"parameter '{name}' must be an integer, got '{text}'") from exc
    if fhir_type == "decimal":
        try:
            return Decimal(text)
        except InvalidOperation as exc:
            raise BadRequest(f"parameter '{name}' must be a number, got '{text}'") from exc
    return text


def parse_query_parameters(pairs: Iterable[tuple[str, str]], definition: dict[str, Any],
                           ignored: Sequence[str] = ("_format", "_pretty")) -> OperationInput:
    """URL parameters of `[base]/$op?name=value`; only primitive-typed inputs can travel this way."""
    declared = {p["name"]: p for p in definition.get("parameter", []) if p.get("use") == "in"}
    inputs = OperationInput()
    for name, text in pairs:
        if name in ignored:
            continue
        spec = declared.get(name)
        if spec is None:
            raise BadRequest(f"${definition['code']} has no input parameter '{name}'", code="not-supported")
        fhir_type = spec.get("type", "string")
        if fhir_type not in PRIMITIVE_KEYS:
            raise BadRequest(f"parameter '{name}' is of type {fhir_type} and must be sent in a Parameters body")
        inputs.entries.setdefault(name, []).append({"name": name, PRIMITIVE_KEYS[fhir_type]: _typed(text, fhir_type, name)})
    return inputs


def parse_parameters_body(body: Any) -> OperationInput:
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise BadRequest("the operation expects a Parameters resource in the body")
    inputs = OperationInput()
    for entry in body.get("parameter", []):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise BadRequest("every Parameters.parameter needs a name")
        inputs.entries.setdefault(entry["name"], []).append(entry)
    return inputs


def to_parameters(values: Iterable[tuple[str, str, Any]]) -> dict[str, Any]:
    """A Parameters resource from (name, value[x] key or 'resource' or 'part', value) triples."""
    return {"resourceType": "Parameters", "parameter": [{"name": name, key: value} for name, key, value in values]}
