"""The vendored terminology content, read from `terminology/data/` (see the README there).

    resources = content.bundled()   # every CodeSystem, ValueSet and ConceptMap the server ships
    content.release()               # a digest of those files: changes whenever the content does

The files are built by `tools/vendor_terminology.py`. The server loads them into its database at migrate
time (`fhir_server.db.terminology_content`) and reads them from there at start; a `TerminologyStore()`
built without a database (the unit tests, `terminology.bench`) parses them here, in a few hundred
milliseconds.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from functools import cache
from importlib import resources as importlib_resources
from typing import Any

__all__ = ["bundled", "release", "load", "official_operation_definitions"]

SPEC_FILES = ("code-systems.json.gz", "value-sets.json.gz", "concept-maps.json.gz")
LOCAL_FILES = ("local-code-systems.json.gz",)


def _read(name: str) -> bytes:
    return importlib_resources.files("terminology.data").joinpath(name).read_bytes()


def load(name: str) -> Any:
    """Parse one file of `terminology/data/` (gzip JSON)."""
    return json.loads(gzip.decompress(_read(name)))


def bundled() -> list[dict[str, Any]]:
    """The R4 specification's CodeSystems, ValueSets and ConceptMaps, then the LOINC, SNOMED CT and
    ICD-10 fragments (which replace the specification's content-less SNOMED CT entry)."""
    resources: list[dict[str, Any]] = []
    for name in SPEC_FILES + LOCAL_FILES:
        resources.extend(load(name))
    return resources


@cache
def release() -> str:
    """The SHA-256 of the files `bundled()` reads (hex): whether the content a database holds is this
    release's, told without parsing them. The files do not change while a process runs."""
    digest = hashlib.sha256()
    for name in SPEC_FILES + LOCAL_FILES:
        digest.update(hashlib.sha256(_read(name)).digest())
    return digest.hexdigest()


@cache
def official_operation_definitions() -> dict[str, dict[str, Any]]:
    """The R4 OperationDefinitions of the terminology operations, by id (`CodeSystem-lookup`...)."""
    return {definition["id"]: definition for definition in load("operation-definitions.json.gz")}
