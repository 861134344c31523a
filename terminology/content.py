"""The vendored terminology content, read from `terminology/data/` (see the README there).

    resources = content.bundled()   # every CodeSystem, ValueSet and ConceptMap the server starts with

The files are built by `tools/vendor_terminology.py`; parsing them takes a few hundred milliseconds, so a
process reads them once, when its `TerminologyStore` is created.
"""

from __future__ import annotations

import gzip
import json
from functools import cache
from importlib import resources as importlib_resources
from typing import Any

__all__ = ["bundled", "load", "official_operation_definitions"]

SPEC_FILES = ("code-systems.json.gz", "value-sets.json.gz", "concept-maps.json.gz")
LOCAL_FILES = ("local-code-systems.json.gz",)


def load(name: str) -> Any:
    """Parse one file of `terminology/data/` (gzip JSON)."""
    raw = importlib_resources.files("terminology.data").joinpath(name).read_bytes()
    return json.loads(gzip.decompress(raw))


def bundled() -> list[dict[str, Any]]:
    """The R4 specification's CodeSystems, ValueSets and ConceptMaps, then the LOINC, SNOMED CT and
    ICD-10 fragments (which replace the specification's content-less SNOMED CT entry)."""
    resources: list[dict[str, Any]] = []
    for name in SPEC_FILES + LOCAL_FILES:
        resources.extend(load(name))
    return resources


@cache
def official_operation_definitions() -> dict[str, dict[str, Any]]:
    """The R4 OperationDefinitions of the terminology operations, by id (`CodeSystem-lookup`...)."""
    return {definition["id"]: definition for definition in load("operation-definitions.json.gz")}
