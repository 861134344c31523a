"""What the search code needs to know about the R4 structure: element types and resource types.

The facts come from the R4 model tables shipped with fhirpathpy (`path2Type`, `choiceTypePaths`,
`pathsDefinedElsewhere`, `type2Parent`), so the fast path extractor and fhirpathpy agree on them.
Element paths are either `Type.element` for data types and resources or the full backbone path
(`Encounter.participant.individual`) for elements of backbone elements.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from fhirpathpy.models import models

__all__ = [
    "R4_MODEL", "PRIMITIVE_TYPES", "resource_types", "is_resource_type", "element_type", "choice_types",
    "choice_type_name", "choice_suffix", "is_subtype", "BACKBONE",
]

R4_MODEL: dict[str, Any] = models["r4"]

_PATH_TYPES: dict[str, str] = R4_MODEL["path2Type"]
_CHOICES: dict[str, list[str]] = R4_MODEL["choiceTypePaths"]
_ELSEWHERE: dict[str, str] = R4_MODEL["pathsDefinedElsewhere"]
_PARENTS: dict[str, str] = R4_MODEL["type2Parent"]

PRIMITIVE_TYPES = frozenset({
    "base64Binary", "boolean", "canonical", "code", "date", "dateTime", "decimal", "id", "instant", "integer",
    "markdown", "oid", "positiveInt", "string", "time", "unsignedInt", "uri", "url", "uuid", "xhtml",
})

# A backbone element has no type of its own: its children are looked up under its full path.
BACKBONE = "BackboneElement"


@cache
def resource_types() -> frozenset[str]:
    """Every concrete R4 resource type (Patient, Bundle, Parameters...), not Resource or DomainResource."""
    return frozenset(
        name for name in _PARENTS
        if name not in ("Resource", "DomainResource") and _PARENTS[name] in ("Resource", "DomainResource")
    )


def is_resource_type(name: str) -> bool:
    return name in resource_types()


def is_subtype(name: str, ancestor: str) -> bool:
    """True when `name` is `ancestor` or derives from it (`Age` is a `Quantity`, `code` a `string`)."""
    while name:
        if name == ancestor:
            return True
        name = _PARENTS.get(name, "")
    return False


def _lookup(owner: str, element: str) -> tuple[str, str] | None:
    """(owner path the element was found under, its path) walking up the owner's type ancestry."""
    name = owner
    while name:
        path = f"{name}.{element}"
        path = _ELSEWHERE.get(path, path)
        if path in _PATH_TYPES or path in _CHOICES:
            return name, path
        # backbone children are listed by their own paths only (e.g. Encounter.participant.type)
        if any(known.startswith(path + ".") for known in _children_prefixes(name)):
            return name, path
        name = _PARENTS.get(name, "") if "." not in name else ""
    return None


@cache
def _children_prefixes(owner: str) -> tuple[str, ...]:
    prefix = owner + "."
    return tuple(path for path in _PATH_TYPES if path.startswith(prefix))


def element_type(owner: str, element: str) -> str | None:
    """The type of `owner.element`: a type name, the backbone path for backbone elements, or None.

    `owner` is a type name (`HumanName`, `Patient`) or a backbone path (`Encounter.participant`).
    Choice elements (`value[x]`) answer None here: see `choice_types`.
    """
    found = _lookup(owner, element)
    if found is None:
        return None
    _, path = found
    if path in _CHOICES:
        return None
    kind = _PATH_TYPES.get(path)
    if kind is None or kind in (BACKBONE, "Element"):
        return path
    if kind.startswith("System."):
        return "string"
    return kind


def choice_types(owner: str, element: str) -> tuple[str, ...]:
    """The type names a choice element may take (`Observation.value` → Quantity, string...), else ()."""
    found = _lookup(owner, element)
    if found is None:
        return ()
    return tuple(choice_type_name(suffix) for suffix in _CHOICES.get(found[1], ()))


def choice_type_name(suffix: str) -> str:
    """The type name behind a choice suffix: `DateTime` → `dateTime`, `Quantity` → `Quantity`."""
    lowered = suffix[:1].lower() + suffix[1:]
    return lowered if lowered in PRIMITIVE_TYPES else suffix


def choice_suffix(type_name: str) -> str:
    """The JSON key suffix of a choice type: `dateTime` → `DateTime`."""
    return type_name[:1].upper() + type_name[1:]
