"""The vendored official FHIR R4 definitions (CC0, HL7), loaded once and cached.

Built by the scripts in `tools/` from the R4 4.0.1 definition files; see `resources/definitions/README.md`.
"""

from __future__ import annotations

import gzip
import json
from functools import cache
from importlib import resources as importlib_resources
from typing import Any

__all__ = [
    "load", "search_parameters", "patient_compartment", "structure_definitions", "required_value_sets",
    "binding_strengths",
]


@cache
def load(name: str) -> Any:
    """Parse one vendored definition file (`name` as in this folder, e.g. `search-parameters.json.gz`)."""
    raw = importlib_resources.files(__package__).joinpath(name).read_bytes()
    if name.endswith(".gz"):
        raw = gzip.decompress(raw)
    return json.loads(raw)


def search_parameters() -> list[dict[str, Any]]:
    """All 1,378 R4 SearchParameter definitions (code, base, type, expression, target, component...)."""
    return load("search-parameters.json.gz")


def patient_compartment() -> dict[str, Any]:
    """The R4 Patient CompartmentDefinition: which types belong through which search parameters."""
    return load("compartmentdefinition-patient.json.gz")


def structure_definitions() -> dict[str, Any]:
    """The compiled R4 types: `types` (element tables), `resourceTypes`, `r4bModelTypes`, `r4bUnsafeProperties`."""
    return load("structure-definitions.json.gz")


def required_value_sets() -> dict[str, dict[str, list[str]]]:
    """The codes, by code system, of each value set that an R4 required binding points at."""
    return load("required-value-sets.json.gz")


def binding_strengths() -> dict[str, Any]:
    """The R4 extensible and preferred bindings to value sets the specification enumerates:
    `bindings` (type -> element path -> [strength, value set url]) and `valueSets` (url -> codes by system)."""
    return load("binding-strengths.json.gz")
