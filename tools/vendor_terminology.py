"""Vendor the R4 CodeSystems, ValueSets and ConceptMaps into `terminology/data/` for the terminology service.

Run from the repository root with the FHIR R4 definition files at hand:

    python tools/vendor_terminology.py ../shared/fhir-r4

It reads `valuesets.json`, `v2-tables.json`, `v3-codesystems.json` and `conceptmaps.json` and writes
four files (gzip, mtime=0, keys in a fixed order, so the output is byte-identical between runs):

- `code-systems.json.gz`: every CodeSystem with what the operations use: its identity (url, version,
  name, title, status), `content`, `caseSensitive`, `hierarchyMeaning`, `valueSet`, `supplements`, the
  declared properties and filters, and the concept tree (code, display, definition, designations,
  properties, nested concepts). Narrative, contacts, extensions and descriptions are dropped.
- `value-sets.json.gz`: every ValueSet's identity and `compose` (include / exclude: system, version,
  concepts with their display and designations, filters, imported value sets).
- `concept-maps.json.gz`: every ConceptMap's identity, source / target and groups.
- `operation-definitions.json.gz`: the official OperationDefinitions of the terminology operations
  (from `profiles-resources.json`, narrative dropped), which `terminology/operation_definition.py`
  narrows to the parameters this server supports.

The redistributed source carries some edits that are not R4 (see `resources/definitions/README.md`):
resources whose `version` is a later FHIR release (the R5 `detectedissue-status` CodeSystem and ValueSet)
are skipped, and the script prints each one it leaves out. The output is committed; the server never
reads the source folder.

It also compiles the reviewed tables of this project, `terminology/data/loinc-lab.tsv`,
`snomed-ct-risk.tsv` and `icd-10-risk.tsv` (see `terminology/data/README.md`), into the CodeSystem
fragments of `local-code-systems.json.gz`; with `--local` it rebuilds only that file (no source folder
needed):

    python tools/vendor_terminology.py --local
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent.parent / "terminology" / "data"
SOURCES = ("valuesets.json", "v2-tables.json", "v3-codesystems.json", "conceptmaps.json")
OPERATIONS = (
    "CodeSystem-lookup", "CodeSystem-validate-code", "CodeSystem-subsumes", "ValueSet-expand",
    "ValueSet-validate-code", "ConceptMap-translate",
)
LATER_RELEASES = ("4.3.0", "5.0.0")  # FHIR releases after R4 whose resources crept into the source

IDENTITY = ("resourceType", "id", "url", "version", "name", "title", "status", "experimental")
CODE_SYSTEM_FIELDS = (
    "caseSensitive", "valueSet", "hierarchyMeaning", "compositional", "versionNeeded", "content",
    "supplements", "count",
)
CONCEPT_FIELDS = ("code", "display", "definition")
DESIGNATION_FIELDS = ("language", "use", "value")
CONCEPT_MAP_FIELDS = ("sourceUri", "sourceCanonical", "targetUri", "targetCanonical")


def read_resources(source: Path) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for name in SOURCES:
        for entry in json.loads((source / name).read_text())["entry"]:
            resource = entry["resource"]
            if resource.get("version") in LATER_RELEASES:
                print(f"skipped {resource['resourceType']} {resource['url']}: version {resource['version']}")
                continue
            found.append(resource)
    return found


def pick(resource: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: resource[name] for name in fields if name in resource}


def designations(concept: dict[str, Any]) -> list[dict[str, Any]]:
    return [pick(designation, DESIGNATION_FIELDS) for designation in concept.get("designation", [])]


def concept_tree(concepts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for concept in concepts:
        kept = pick(concept, CONCEPT_FIELDS)
        if kept.get("definition"):
            kept["definition"] = kept["definition"].strip()
        if "designation" in concept:
            kept["designation"] = designations(concept)
        if "property" in concept:
            kept["property"] = concept["property"]
        if "concept" in concept:
            kept["concept"] = concept_tree(concept["concept"])
        out.append(kept)
    return out


def code_system(resource: dict[str, Any]) -> dict[str, Any]:
    kept = pick(resource, IDENTITY + CODE_SYSTEM_FIELDS)
    if "property" in resource:
        kept["property"] = [pick(p, ("code", "uri", "description", "type")) for p in resource["property"]]
    if "filter" in resource:
        kept["filter"] = [pick(f, ("code", "description", "operator", "value")) for f in resource["filter"]]
    if "concept" in resource:
        kept["concept"] = concept_tree(resource["concept"])
    return kept


def compose_part(part: dict[str, Any]) -> dict[str, Any]:
    kept = pick(part, ("system", "version", "filter", "valueSet"))
    if "concept" in part:
        kept["concept"] = []
        for concept in part["concept"]:
            entry = pick(concept, ("code", "display"))
            if "designation" in concept:
                entry["designation"] = designations(concept)
            kept["concept"].append(entry)
    return kept


def value_set(resource: dict[str, Any]) -> dict[str, Any]:
    kept = pick(resource, IDENTITY + ("immutable",))
    compose = resource.get("compose")
    if compose:
        kept["compose"] = pick(compose, ("lockedDate", "inactive"))
        for side in ("include", "exclude"):
            if side in compose:
                kept["compose"][side] = [compose_part(part) for part in compose[side]]
    return kept


def concept_map(resource: dict[str, Any]) -> dict[str, Any]:
    kept = pick(resource, IDENTITY + CONCEPT_MAP_FIELDS)
    kept["group"] = resource.get("group", [])
    return kept


def operation_definitions(source: Path) -> list[dict[str, Any]]:
    bundle = json.loads((source / "profiles-resources.json").read_text())
    found = {
        entry["resource"]["id"]: entry["resource"]
        for entry in bundle["entry"]
        if entry["resource"]["resourceType"] == "OperationDefinition" and entry["resource"]["id"] in OPERATIONS
    }
    definitions = []
    for name in OPERATIONS:
        definition = found[name]
        if definition.get("version") != "4.0.1":
            raise SystemExit(f"OperationDefinition {name} is version {definition.get('version')}, not 4.0.1")
        definitions.append({k: v for k, v in definition.items() if k not in ("text", "meta", "extension")})
    return definitions


# -- the reviewed LOINC, SNOMED CT and ICD-10 tables ------------------------------------------------

LOINC_PARTS = ("COMPONENT", "PROPERTY", "TIME_ASPCT", "SYSTEM", "SCALE_TYP", "METHOD_TYP", "EXAMPLE_UCUM_UNITS")
LOINC_PART_NAMES = {
    "COMPONENT": "First major axis: component or analyte",
    "PROPERTY": "Second major axis: property observed (e.g. mass vs. substance)",
    "TIME_ASPCT": "Third major axis: timing of the measurement (e.g. point in time vs 24 hours)",
    "SYSTEM": "Fourth major axis: type of specimen or system (e.g. serum vs urine)",
    "SCALE_TYP": "Fifth major axis: scale of measurement (e.g. qualitative vs. quantitative)",
    "METHOD_TYP": "Sixth major axis: method of measurement",
    "EXAMPLE_UCUM_UNITS": "An example unit of measure for the term, in UCUM",
}
LOINC_COPYRIGHT = (
    "This material contains content from LOINC (http://loinc.org). LOINC is copyright (c) 1995-2024, "
    "Regenstrief Institute, Inc. and the Logical Observation Identifiers Names and Codes (LOINC) Committee "
    "and is available at no cost under the license at http://loinc.org/license. LOINC(R) is a registered "
    "United States trademark of Regenstrief Institute, Inc."
)
SNOMED_COPYRIGHT = (
    "This material includes SNOMED Clinical Terms(R) (SNOMED CT(R)) identifiers and descriptions, used "
    "with permission of SNOMED International. SNOMED CT is copyright (c) SNOMED International; use of "
    "SNOMED CT content requires an Affiliate Licence from SNOMED International or a Member country's "
    "National Release Centre (https://www.snomed.org/get-snomed)."
)
ICD10_COPYRIGHT = (
    "ICD-10: International Statistical Classification of Diseases and Related Health Problems, 10th "
    "Revision. Copyright (c) World Health Organization (WHO); codes and titles reproduced for "
    "identification only (https://icd.who.int/browse10)."
)
FSN = {"system": "http://snomed.info/sct", "code": "900000000000003001", "display": "Fully specified name"}
SYNONYM = {"system": "http://snomed.info/sct", "code": "900000000000013009", "display": "Synonym"}


def read_table(path: Path, columns: int) -> list[list[str]]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        cells = line.split("\t")
        if len(cells) != columns:
            raise SystemExit(f"{path.name}:{number}: {len(cells)} columns, expected {columns}")
        rows.append([cell.strip() for cell in cells])
    codes = [row[0] for row in rows]
    if len(codes) != len(set(codes)):
        raise SystemExit(f"{path.name}: duplicate codes {sorted({c for c in codes if codes.count(c) > 1})}")
    return rows


def loinc_code_system(path: Path) -> dict[str, Any]:
    concepts = []
    for code, display, *parts in read_table(path, 2 + len(LOINC_PARTS)):
        properties = [
            {"code": name, "valueString": value}
            for name, value in zip(LOINC_PARTS, parts, strict=True)
            if value and value != "-"
        ]
        concepts.append({"code": code, "display": display, "property": properties})
    return {
        "resourceType": "CodeSystem", "id": "loinc", "url": "http://loinc.org", "name": "LOINC",
        "title": "LOINC (laboratory and vital-sign subset)", "status": "active", "experimental": False,
        "publisher": "Regenstrief Institute, Inc.", "copyright": LOINC_COPYRIGHT, "caseSensitive": False,
        "valueSet": "http://loinc.org/vs", "content": "fragment", "count": len(concepts),
        "property": [
            {"code": name, "uri": f"http://loinc.org/property/{name}", "description": text, "type": "string"}
            for name, text in LOINC_PART_NAMES.items()
        ],
        "concept": concepts,
    }


def snomed_code_system(path: Path) -> dict[str, Any]:
    concepts = []
    for code, preferred, fsn, parents, synonyms in read_table(path, 5):
        designations = [{"language": "en", "use": FSN, "value": fsn}]
        designations += [{"language": "en", "use": SYNONYM, "value": s} for s in synonyms.split("|") if s]
        concept: dict[str, Any] = {"code": code, "display": preferred, "designation": designations}
        if parents:
            concept["property"] = [{"code": "parent", "valueCode": parent} for parent in parents.split()]
        concepts.append(concept)
    return {
        "resourceType": "CodeSystem", "id": "sct", "url": "http://snomed.info/sct", "name": "SNOMED_CT",
        "title": "SNOMED CT (risk outcome subset)", "status": "active", "experimental": False,
        "publisher": "SNOMED International", "copyright": SNOMED_COPYRIGHT, "caseSensitive": True,
        "valueSet": "http://snomed.info/sct?fhir_vs", "hierarchyMeaning": "is-a", "content": "fragment",
        "count": len(concepts),
        "property": [{"code": "parent", "uri": "http://hl7.org/fhir/concept-properties#parent", "type": "code"}],
        "concept": concepts,
    }


def icd10_code_system(path: Path) -> dict[str, Any]:
    concepts = []
    for code, title, parent in read_table(path, 3):
        concept: dict[str, Any] = {"code": code, "display": title}
        if parent:
            concept["property"] = [{"code": "parent", "valueCode": parent}]
        concepts.append(concept)
    return {
        "resourceType": "CodeSystem", "id": "icd-10", "url": "http://hl7.org/fhir/sid/icd-10", "name": "ICD10",
        "title": "ICD-10 (WHO; risk outcome subset)", "status": "active", "experimental": False,
        "publisher": "World Health Organization", "copyright": ICD10_COPYRIGHT, "caseSensitive": False,
        "hierarchyMeaning": "is-a", "content": "fragment", "count": len(concepts),
        "property": [{"code": "parent", "uri": "http://hl7.org/fhir/concept-properties#parent", "type": "code"}],
        "concept": concepts,
    }


def local_code_systems() -> list[dict[str, Any]]:
    """The LOINC, SNOMED CT and ICD-10 fragments compiled from the reviewed tables in `terminology/data/`."""
    return [
        loinc_code_system(OUT / "loinc-lab.tsv"),
        snomed_code_system(OUT / "snomed-ct-risk.tsv"),
        icd10_code_system(OUT / "icd-10-risk.tsv"),
    ]


def write_gz(name: str, payload: object) -> None:
    data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    # mtime=0 keeps the output byte-identical between runs
    with open(OUT / name, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        gz.write(data)
    print(f"wrote {name}: {len(data):,} bytes uncompressed, {(OUT / name).stat().st_size:,} compressed")


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    write_gz("local-code-systems.json.gz", local_code_systems())
    if argv[1] == "--local":
        return 0
    resources = read_resources(Path(argv[1]))
    by_type: dict[str, list[dict[str, Any]]] = {"CodeSystem": [], "ValueSet": [], "ConceptMap": []}
    for resource in resources:
        by_type[resource["resourceType"]].append(resource)
    OUT.mkdir(parents=True, exist_ok=True)
    key = lambda r: (r["url"], r.get("version") or "")  # noqa: E731
    write_gz("code-systems.json.gz", [code_system(r) for r in sorted(by_type["CodeSystem"], key=key)])
    write_gz("value-sets.json.gz", [value_set(r) for r in sorted(by_type["ValueSet"], key=key)])
    write_gz("concept-maps.json.gz", [concept_map(r) for r in sorted(by_type["ConceptMap"], key=key)])
    write_gz("operation-definitions.json.gz", operation_definitions(Path(argv[1])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
