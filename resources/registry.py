"""The R4 type registry: which resource, data and primitive types exist and how resources derive.

Compiled from the R4 4.0.1 StructureDefinitions (see `resources/definitions/README.md`).
"""

from __future__ import annotations

from resources.definitions import structure_definitions

__all__ = [
    "RESOURCE_TYPES",
    "DOMAIN_RESOURCE_TYPES",
    "DATA_TYPES",
    "PRIMITIVE_TYPES",
    "R4B_MODEL_TYPES",
    "is_resource_type",
    "is_domain_resource",
    "base_type",
]

_TYPES = structure_definitions()["types"]

RESOURCE_TYPES: frozenset[str] = frozenset(structure_definitions()["resourceTypes"])
"""The 146 concrete R4 resource types."""

PRIMITIVE_TYPES: frozenset[str] = frozenset(n for n, t in _TYPES.items() if t["kind"] == "primitive")
DATA_TYPES: frozenset[str] = frozenset(
    n for n, t in _TYPES.items() if t["kind"] == "complex" and not t["abstract"]
)
"""The complex data types, including the profiles SimpleQuantity and MoneyQuantity."""

R4B_MODEL_TYPES: frozenset[str] = frozenset(structure_definitions()["r4bModelTypes"])
"""Resource types whose `fhir.resources` R4B model has exactly the R4 structure."""


def base_type(name: str) -> str | None:
    """The type `name` derives from (`Patient` -> `DomainResource` -> `Resource` -> None)."""
    entry = _TYPES.get(name)
    return entry["base"] if entry else None


def _derives_from(name: str, ancestor: str) -> bool:
    current = base_type(name)
    while current is not None:
        if current == ancestor:
            return True
        current = base_type(current)
    return False


DOMAIN_RESOURCE_TYPES: frozenset[str] = frozenset(
    n for n in RESOURCE_TYPES if _derives_from(n, "DomainResource")
)
"""Resource types with text, contained, extension and modifierExtension (all but Bundle, Binary, Parameters)."""


def is_resource_type(name: object) -> bool:
    """Whether `name` is a concrete R4 resource type (case-sensitive: `Patient`, not `patient`)."""
    return isinstance(name, str) and name in RESOURCE_TYPES


def is_domain_resource(name: str) -> bool:
    return name in DOMAIN_RESOURCE_TYPES
