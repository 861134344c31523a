"""Vendor the official R4 SearchParameters, the Patient CompartmentDefinition and each resource type's
summary / mandatory top-level elements (for `_summary` and `_elements`) into `resources/definitions/`.

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


def vendor_summary_elements(source: Path) -> None:
    """Per resource type: top-level elements marked isSummary, and those with min >= 1.

    Built from each type's differential plus the elements it inherits from Resource / DomainResource:
    the snapshots in the source carry later, non-R4 edits (see resources/definitions/README.md).
    Choice elements are listed by their base name with `[x]` kept, so the reader can match `valueQuantity`.
    """
    bundle = json.loads((source / "profiles-resources.json").read_text())
    definitions = {
        entry["resource"]["type"]: entry["resource"]
        for entry in bundle["entry"]
        if entry["resource"].get("resourceType") == "StructureDefinition"
        and entry["resource"].get("kind") == "resource"
        and entry["resource"].get("version", "4.0.1") == "4.0.1"
        and entry["resource"].get("derivation", "specialization") == "specialization"
    }

    def own_elements(type_name: str) -> tuple[list[str], list[str]]:
        summary, mandatory = [], []
        for element in definitions[type_name]["differential"]["element"]:
            parts = element["path"].split(".")
            if len(parts) != 2:
                continue
            if element.get("isSummary"):
                summary.append(parts[1])
            if element.get("min", 0) >= 1:
                mandatory.append(parts[1])
        return summary, mandatory

    out: dict[str, dict[str, list[str]]] = {}
    for type_name, sd in definitions.items():
        if sd.get("abstract"):
            continue
        summary, mandatory = [], []
        chain = [type_name]
        while definitions[chain[-1]].get("baseDefinition", "").rsplit("/", 1)[-1] in definitions:
            chain.append(definitions[chain[-1]]["baseDefinition"].rsplit("/", 1)[-1])
        for ancestor in reversed(chain):
            own_summary, own_mandatory = own_elements(ancestor)
            summary += own_summary
            mandatory += own_mandatory
        out[type_name] = {"summary": summary, "mandatory": mandatory}
    write_gz("summary-elements.json.gz", out)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    source = Path(argv[1])
    OUT.mkdir(parents=True, exist_ok=True)
    vendor_search_parameters(source)
    vendor_patient_compartment(source)
    vendor_summary_elements(source)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
