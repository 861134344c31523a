"""FHIR `Parameters` in and out of the terminology operations (https://hl7.org/fhir/R4/parameters.html).

In: `arguments(definition, source)` turns a Parameters resource (a POST body) or query pairs (a GET)
into the keyword arguments of an operation function, by the operation's OperationDefinition: names in
snake case (`displayLanguage` -> `display_language`, `exclude-system` -> `exclude_system`), values typed
(booleans, integers, Codings as `system|code` in a GET), repeating parameters as lists. An unknown or
repeated single parameter is a BadRequest.

Out: `Output` collects output parameters in order and gives the Parameters resource.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from resources.errors import BadRequest

__all__ = ["arguments", "python_name", "Output", "coding_of"]

_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")
VALUE_KEYS = {"boolean": "valueBoolean", "integer": "valueInteger", "string": "valueString",
              "code": "valueCode", "uri": "valueUri", "canonical": "valueCanonical",
              "dateTime": "valueDateTime", "Coding": "valueCoding", "CodeableConcept": "valueCodeableConcept"}
RESOURCE_TYPES = frozenset({"ValueSet", "CodeSystem", "ConceptMap"})


def python_name(name: str) -> str:
    """`displayLanguage` -> `display_language`, `codingA` -> `coding_a`, `exclude-system` -> `exclude_system`."""
    return _CAMEL.sub(r"_\1", name).replace("-", "_").lower()


def arguments(definition: dict[str, Any],
              source: dict[str, Any] | Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Keyword arguments for the operation `definition` from a Parameters resource or (name, value) pairs.

    Names starting with `_` (`_format`, `_pretty`) belong to the HTTP layer and are skipped.
    """
    inputs = {p["name"]: p for p in definition["parameter"] if p["use"] == "in"}
    found: dict[str, list[Any]] = {}
    if isinstance(source, dict):
        if source.get("resourceType") != "Parameters":
            raise BadRequest("The body of an operation must be a Parameters resource")
        for param in source.get("parameter", []):
            name = param.get("name", "")
            spec = _spec(inputs, name, definition)
            found.setdefault(name, []).append(_value_of(param, spec))
    else:
        for name, text in source:
            if name.startswith("_"):
                continue
            spec = _spec(inputs, name, definition)
            found.setdefault(name, []).append(_from_text(text, spec))
    kwargs: dict[str, Any] = {}
    for name, values in found.items():
        spec = inputs[name]
        if spec["max"] == "1":
            if len(values) > 1:
                raise BadRequest(f"Parameter '{name}' of ${definition['code']} may appear only once")
            kwargs[python_name(name)] = values[0]
        else:
            kwargs[python_name(name)] = values
    return kwargs


def _spec(inputs: dict[str, dict[str, Any]], name: str, definition: dict[str, Any]) -> dict[str, Any]:
    spec = inputs.get(name)
    if spec is None:
        known = ", ".join(sorted(inputs))
        raise BadRequest(f"Unknown parameter '{name}' for ${definition['code']} (this server takes {known})")
    return spec


def _value_of(param: dict[str, Any], spec: dict[str, Any]) -> Any:
    kind = spec.get("type")
    if kind in RESOURCE_TYPES:
        resource = param.get("resource")
        if not isinstance(resource, dict) or resource.get("resourceType") != kind:
            raise BadRequest(f"Parameter '{spec['name']}' must carry a {kind} resource")
        return resource
    if "part" in spec:
        return {part["name"]: _part_value(part) for part in param.get("part", [])}
    for key, value in param.items():
        if key.startswith("value"):
            expected = VALUE_KEYS.get(kind or "")
            if expected is not None and key != expected and not _compatible(key, expected):
                raise BadRequest(f"Parameter '{spec['name']}' takes {expected}, not {key}")
            return value
    raise BadRequest(f"Parameter '{spec['name']}' has no value")


def _part_value(part: dict[str, Any]) -> Any:
    for key, value in part.items():
        if key.startswith("value"):
            return value
    return part.get("resource")


def _compatible(key: str, expected: str) -> bool:
    strings = {"valueString", "valueCode", "valueUri", "valueCanonical", "valueUrl", "valueId"}
    return key in strings and expected in strings


def _from_text(text: str, spec: dict[str, Any]) -> Any:
    kind = spec.get("type")
    name = spec["name"]
    if kind == "boolean":
        if text not in ("true", "false"):
            raise BadRequest(f"Parameter '{name}' must be true or false, not '{text}'")
        return text == "true"
    if kind == "integer":
        try:
            return int(text)
        except ValueError:
            raise BadRequest(f"Parameter '{name}' must be an integer, not '{text}'") from None
    if kind == "Coding":
        system, sep, code = text.rpartition("|")
        if not sep:
            raise BadRequest(f"Parameter '{name}' must be given as system|code in a URL")
        return {"system": system, "code": code} if system else {"code": code}
    if kind in RESOURCE_TYPES or kind == "CodeableConcept" or "part" in spec:
        raise BadRequest(f"Parameter '{name}' ({kind or 'parts'}) can only be given in a POSTed Parameters body")
    return text


def coding_of(value: Any, name: str) -> dict[str, Any]:
    """Check that a Coding argument is a dict with a code."""
    if not isinstance(value, dict) or not isinstance(value.get("code"), str) or not value["code"]:
        raise BadRequest(f"Parameter '{name}' must be a Coding with a code")
    return value


class Output:
    """Output parameters in order: `add(name, valueKey, value)`, `part(name, [...])`, `resource()`."""

    def __init__(self) -> None:
        self.parameters: list[dict[str, Any]] = []

    def add(self, name: str, key: str, value: Any) -> Output:
        self.parameters.append({"name": name, key: value})
        return self

    def part(self, name: str, parts: list[dict[str, Any]]) -> Output:
        self.parameters.append({"name": name, "part": parts})
        return self

    def resource(self) -> dict[str, Any]:
        return {"resourceType": "Parameters", "parameter": self.parameters}
