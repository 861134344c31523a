"""The OperationDefinitions this server publishes for its terminology operations.

Each is the official R4 definition (vendored in `terminology/data/operation-definitions.json.gz`)
narrowed to the input parameters this server implements, with `base` pointing at the official one
(https://hl7.org/fhir/R4/operationdefinition.html#base), so a client can tell what is left out. With a
`base_url` the definition gets its own canonical `url` on this server.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from terminology.content import official_operation_definitions

__all__ = ["narrowed"]

OFFICIAL = "http://hl7.org/fhir/OperationDefinition/"


def narrowed(official_id: str, *, inputs: Iterable[str], extra_outputs: Iterable[dict[str, Any]] = (),
             base_url: str | None = None, comment: str | None = None) -> dict[str, Any]:
    """The official OperationDefinition `official_id` keeping only the `inputs` named (and every output)."""
    official = official_operation_definitions()[official_id]
    kept = set(inputs)
    unknown = kept - {p["name"] for p in official["parameter"] if p["use"] == "in"}
    if unknown:
        raise ValueError(f"{official_id} has no input parameters {sorted(unknown)}")
    definition = copy.deepcopy({k: v for k, v in official.items() if k not in ("parameter", "url", "date")})
    definition["id"] = official_id
    if base_url:
        definition["url"] = f"{base_url.rstrip('/')}/OperationDefinition/{official_id}"
    definition["base"] = OFFICIAL + official_id
    definition["status"] = "active"
    definition["publisher"] = "fhir-server"
    if comment:
        definition["comment"] = comment
    definition["parameter"] = [
        copy.deepcopy(p) for p in official["parameter"] if p["use"] == "out" or p["name"] in kept
    ] + [copy.deepcopy(p) for p in extra_outputs]
    return definition
