"""Vendor the official R4 SearchParameters and the Patient CompartmentDefinition into `resources/definitions/`.

Run from the repository root with the FHIR R4 definition files at hand:

    python tools/vendor_search_definitions.py ../shared/fhir-r4

The output is committed; the server never reads the source folder.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "resources" / "definitions"

KEPT_SEARCH_FIELDS = (
    "id", "url", "name", "code", "base", "type", "expression", "xpathUsage", "target",
    "multipleOr", "multipleAnd", "comparator", "modifier", "chain", "component", "description",
)


def write_gz(name: str, payload: object) -> None:
    data = json.dumps(payload, separators=(",", ":"), sort_keys=False).encode()
    # mtime=0 keeps the output byte-identical between runs
    with open(OUT / name, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        gz.write(data)
    print(f"wrote {name}: {len(data):,} bytes uncompressed")


def vendor_search_parameters(source: Path) -> None:
    bundle = json.loads((source / "search-parameters.json").read_text())
    params = []
    for entry in bundle["entry"]:
        resource = entry["resource"]
        params.append({k: resource[k] for k in KEPT_SEARCH_FIELDS if k in resource})
    write_gz("search-parameters.json.gz", params)


def vendor_patient_compartment(source: Path) -> None:
    definition = json.loads((source / "compartmentdefinition-patient.json").read_text())
    definition.pop("text", None)
    write_gz("compartmentdefinition-patient.json.gz", definition)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    source = Path(argv[1])
    OUT.mkdir(parents=True, exist_ok=True)
    vendor_search_parameters(source)
    vendor_patient_compartment(source)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
