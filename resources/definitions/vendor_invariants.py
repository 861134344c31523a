"""Writes `invariants.json.gz`: the FHIRPath invariants (`ElementDefinition.constraint`) of every R4
resource and data type, from the differentials of `profiles-resources.json` and `profiles-types.json`.

    .venv/bin/python -m resources.definitions.vendor_invariants ../shared/fhir-r4

Each type keeps its base type's name (invariants are inherited: DomainResource's `dom-*` hold for
every domain resource) and rows `[element path, key, severity, expression, human, best practice]`. Only R4 4.0.1
definitions are read (see README.md on the redistributed source).
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).with_name("invariants.json.gz")
SOURCES = ("profiles-types.json", "profiles-resources.json")
BEST_PRACTICE = "http://hl7.org/fhir/StructureDefinition/elementdefinition-bestpractice"


def _best_practice(constraint: dict[str, Any]) -> bool:
    return any(e.get("url") == BEST_PRACTICE and e.get("valueBoolean") for e in constraint.get("extension", []))


def invariants(folder: Path) -> dict[str, Any]:
    types: dict[str, Any] = {}
    for name in SOURCES:
        bundle = json.loads((folder / name).read_text())
        for entry in bundle["entry"]:
            sd = entry["resource"]
            if sd["resourceType"] != "StructureDefinition" or sd.get("fhirVersion", "4.0.1") != "4.0.1":
                continue
            if sd["kind"] not in ("resource", "complex-type") or sd.get("abstract") and sd["id"] not in (
                    "Resource", "DomainResource", "Element", "BackboneElement"):
                continue
            rows = [[element["path"], c["key"], c["severity"], c["expression"], c.get("human", ""), _best_practice(c)]
                    for element in sd.get("differential", {}).get("element", [])
                    for c in element.get("constraint", []) if c.get("expression")]
            base = sd.get("baseDefinition", "").rsplit("/", 1)[-1] or None
            types[sd["id"] if sd.get("derivation") == "constraint" else sd["type"]] = {"base": base, "invariants": rows}
    return {"source": "HL7 FHIR R4 4.0.1 (CC0)", "types": dict(sorted(types.items()))}


def main(folder: str) -> None:
    data = json.dumps(invariants(Path(folder)), separators=(",", ":"), sort_keys=True).encode()
    with open(OUT, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as out:
        out.write(data)
    print(f"wrote {OUT} ({len(data):,} bytes before compression)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/fhir-r4")
