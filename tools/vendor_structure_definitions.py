"""Compile the official R4 StructureDefinitions into `resources/definitions/` for the validator.

Run from the repository root with the FHIR R4 definition files at hand:

    python tools/vendor_structure_definitions.py ../shared/fhir-r4

It writes two files (gzip, mtime=0, so the output is byte-identical between runs):

- `structure-definitions.json.gz`: every R4 primitive type, data type and resource as a flat element
  table (path, min, max, array, types, required value set), the list of resource types, the resource
  types whose `fhir.resources` R4B model matches R4 exactly and the data type properties R4B does not
  take as R4 defines them (see `resources/r4b_compat.py`).
- `required-value-sets.json.gz`: the code lists of the value sets that required bindings point at,
  expanded from the specification's own code systems.

The element tables are compiled from each StructureDefinition's *differential* plus its base type, not
from the snapshot: the redistributed `profiles-resources.json` carries snapshots that were edited after
R4 (e.g. R5 elements in ResearchStudy and EvidenceVariable, extra Meta elements, an R4B
SubscriptionStatus), while the differentials are, but for the ERRATA below, the published R4 4.0.1
ones. Definitions whose version is not 4.0.1 are skipped. The script prints where snapshot and
differential disagree.

The output is committed; the server never reads the source folder.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "resources" / "definitions"
FHIR_VERSION = "4.0.1"
SD = "http://hl7.org/fhir/StructureDefinition/"
FHIR_TYPE_EXT = SD + "structuredefinition-fhir-type"
REGEX_EXT = SD + "regex"
NESTED_TYPES = ("BackboneElement", "Element")
# Element.id, Extension.url and Resource.id have FHIRPath System types: plain JSON values without a
# `_name` for extensions. They are written "=" + the FHIR type that checks their value. R4 4.0.1 tags
# Resource.id "string", but the specification defines it as an `id`
# (https://hl7.org/fhir/R4/resource.html#Resource): keep the defined type.
TYPE_OVERRIDES = {("Resource", "id"): "=id"}

# Where the redistributed differential itself departs from R4 4.0.1. Found by comparing the compiled
# tables with the R4 resource pages (https://hl7.org/fhir/R4/researchstudy.html) and with an independent
# R4 4.0.1 code generation (the fhir.resources 6.4 models): element path -> None to drop it, or the
# R4 binding value set. Each erratum must still apply, so a corrected source is noticed.
ERRATA: dict[str, str | None] = {
    "ResearchStudy.studyDesign": None,  # an R5 element
    "ResearchStudy.status": "http://hl7.org/fhir/ValueSet/research-study-status",  # not publication-status|5.0.0
}

Row = list[Any]  # [path, min, max, array, types, value set url or None]
APPLIED: set[str] = set()


def read_bundle(path: Path) -> list[dict[str, Any]]:
    return [entry["resource"] for entry in json.loads(path.read_text())["entry"]]


def r4_structure_definitions(source: Path) -> dict[str, dict[str, Any]]:
    """The R4 4.0.1 primitive types, data types and resources by id (logical models left out)."""
    found: dict[str, dict[str, Any]] = {}
    for name in ("profiles-types.json", "profiles-resources.json"):
        for sd in read_bundle(source / name):
            if sd["resourceType"] != "StructureDefinition":
                continue
            if sd.get("fhirVersion") != FHIR_VERSION or sd.get("version") != FHIR_VERSION:
                print(f"skipped {sd['id']}: version {sd.get('version')}, not {FHIR_VERSION}")
                continue
            if sd["kind"] in ("primitive-type", "complex-type", "resource"):
                found[sd["id"]] = sd
    return found


def element_type(sd: dict[str, Any], rel: str, spec: dict[str, Any]) -> str:
    override = TYPE_OVERRIDES.get((sd["id"], rel))
    if override:
        return override
    code: str = spec["code"]
    if code.startswith("http://hl7.org/fhirpath/System."):
        for ext in spec.get("extension", []):
            if ext["url"] == FHIR_TYPE_EXT:
                return "=" + str(ext["valueUrl"])
        return "=" + code.rsplit(".", 1)[1].lower()
    for profile in spec.get("profile", []):
        name = profile.removeprefix(SD)
        if name != code:
            return name  # a profiled data type such as SimpleQuantity, compiled as its own type
    return code


def relative(sd: dict[str, Any], path: str) -> str:
    return path[len(sd["type"]) + 1 :]


def own_rows(sd: dict[str, Any], compiled: dict[str, dict[str, Any]], required: set[str]) -> list[Row]:
    """The rows a specialization defines, each nested element followed by its inherited children."""
    rows: list[Row] = []
    for element in sd["differential"]["element"][1:]:
        if element["path"] in ERRATA:
            APPLIED.add(element["path"])
            fixed = ERRATA[element["path"]]
            if fixed is None:
                continue
            element = {**element, "binding": {"strength": "required", "valueSet": fixed}}
        rel = relative(sd, element["path"])
        max_ = element["max"]
        if "contentReference" in element:
            types = ["#" + relative(sd, element["contentReference"][1:])]
        else:
            types = [element_type(sd, rel, spec) for spec in element["type"]]
        rows.append([rel, element["min"], max_, max_ != "1", types, binding(element, required)])
        if types[0] in NESTED_TYPES:
            for child in compiled[types[0]]["elements"]:
                rows.append([f"{rel}.{child[0]}", *child[1:]])
    return rows


def binding(element: dict[str, Any], required: set[str]) -> str | None:
    spec = element.get("binding")
    if not spec or spec["strength"] != "required" or "valueSet" not in spec:
        return None
    url: str = spec["valueSet"].split("|", 1)[0]
    required.add(url)
    return url


def constrained_rows(sd: dict[str, Any], base: dict[str, Any], required: set[str]) -> list[Row]:
    """A constraint (SimpleQuantity, MoneyQuantity): the base type's rows with the differential applied."""
    rows = [list(row) for row in base["elements"]]
    by_path = {row[0]: row for row in rows}
    for element in sd["differential"]["element"][1:]:
        row = by_path[relative(sd, element["path"])]
        if "min" in element:
            row[1] = element["min"]
        if "max" in element:
            row[2] = element["max"]
        if "type" in element:
            row[4] = [element_type(sd, row[0], spec) for spec in element["type"]]
        if "binding" in element:
            row[5] = binding(element, required)
    return rows


def primitive_regex(sd: dict[str, Any]) -> str | None:
    for element in sd["differential"]["element"]:
        if element["path"] == f"{sd['type']}.value":
            for ext in element["type"][0].get("extension", []):
                if ext["url"] == REGEX_EXT:
                    return str(ext["valueString"])
    return None


def compile_types(sds: dict[str, dict[str, Any]], required: set[str]) -> dict[str, dict[str, Any]]:
    compiled: dict[str, dict[str, Any]] = {}

    def compile_one(name: str) -> None:
        if name in compiled:
            return
        sd = sds[name]
        base_name = sd.get("baseDefinition", "").removeprefix(SD) or None
        if base_name in sds:
            compile_one(base_name)
        kind = sd["kind"].removesuffix("-type")
        entry: dict[str, Any] = {"kind": kind, "base": base_name, "abstract": sd["abstract"]}
        if sd.get("derivation") == "constraint":
            entry["base"] = sd["type"]
            entry["constraint"] = True
            entry["elements"] = constrained_rows(sd, compiled[sd["type"]], required)
        elif kind == "primitive":
            entry["regex"] = primitive_regex(sd)
            entry["elements"] = [row for row in compiled["Element"]["elements"]]
        else:
            inherited = compiled[base_name]["elements"] if base_name in compiled else []
            entry["elements"] = [list(row) for row in inherited] + own_rows(sd, compiled, required)
        compiled[name] = entry

    for name in ("Element", "BackboneElement", *sorted(sds)):
        compile_one(name)
    return {name: compiled[name] for name in sorted(compiled)}


def _differs(element: dict[str, Any], other: dict[str, Any]) -> bool:
    if any(element.get(k) != other.get(k) for k in ("min", "max", "contentReference")):
        return True
    if [t["code"] for t in element.get("type", [])] != [t["code"] for t in other.get("type", [])]:
        return True
    return "binding" in element and element["binding"].get("valueSet") != other.get("binding", {}).get("valueSet")


def report_snapshot_differences(sds: dict[str, dict[str, Any]]) -> None:
    """Print the elements whose snapshot disagrees with the differential (the snapshot is ignored)."""
    for sd in sds.values():
        if sd.get("derivation") != "specialization":
            continue
        snapshot = {e["path"]: e for e in sd["snapshot"]["element"]}
        differential = {e["path"]: e for e in sd["differential"]["element"]}
        differences = [p for p in differential if p not in snapshot]
        differences += [
            p for p, e in snapshot.items()
            if e["base"]["path"] == p and p != sd["type"] and p not in differential
        ]
        differences += [p for p, e in differential.items() if p in snapshot and _differs(e, snapshot[p])]
        if differences:
            print(f"{sd['id']}: snapshot differs from the R4 differential at {len(differences)} "
                  f"element(s), e.g. {', '.join(sorted(differences)[:4])}")


# -- value sets ---------------------------------------------------------------------------------

def terminology(source: Path) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    code_systems: dict[str, dict[str, Any]] = {}
    value_sets: dict[str, dict[str, Any]] = {}
    for name in ("valuesets.json", "v3-codesystems.json", "v2-tables.json"):
        for resource in read_bundle(source / name):
            target = code_systems if resource["resourceType"] == "CodeSystem" else value_sets
            target.setdefault(resource["url"], resource)
    return code_systems, value_sets


def all_codes(concepts: list[dict[str, Any]]) -> list[str]:
    codes: list[str] = []
    for concept in concepts:
        codes.append(concept["code"])
        codes.extend(all_codes(concept.get("concept", [])))
    return codes


class Expander:
    """Expands value sets that the specification fully enumerates; None for the rest."""

    def __init__(self, code_systems: dict[str, dict[str, Any]], value_sets: dict[str, dict[str, Any]]):
        self.code_systems = code_systems
        self.value_sets = value_sets

    def expand(self, url: str) -> dict[str, set[str]] | None:
        value_set = self.value_sets.get(url)
        if value_set is None or "compose" not in value_set:
            return None
        result: dict[str, set[str]] = {}
        for include in value_set["compose"].get("include", []):
            part = self.part(include)
            if part is None:
                return None
            for system, codes in part.items():
                result.setdefault(system, set()).update(codes)
        for exclude in value_set["compose"].get("exclude", []):
            part = self.part(exclude)
            if part is None:
                return None
            for system, codes in part.items():
                result.get(system, set()).difference_update(codes)
        return result

    def part(self, include: dict[str, Any]) -> dict[str, set[str]] | None:
        if "filter" in include:
            return None
        selected: dict[str, set[str]] | None = None
        if "system" in include:
            system = include["system"]
            if "concept" in include:
                selected = {system: {c["code"] for c in include["concept"]}}
            else:
                code_system = self.code_systems.get(system)
                if code_system is None or code_system.get("content") != "complete":
                    return None
                selected = {system: set(all_codes(code_system.get("concept", [])))}
        for url in include.get("valueSet", []):
            other = self.expand(url.split("|", 1)[0])
            if other is None:
                return None
            if selected is None:
                selected = other
            else:
                selected = {s: c & other.get(s, set()) for s, c in selected.items()}
        return selected


def expand_required(source: Path, urls: set[str]) -> dict[str, dict[str, list[str]]]:
    expander = Expander(*terminology(source))
    expanded: dict[str, dict[str, list[str]]] = {}
    skipped = []
    for url in sorted(urls):
        codes = expander.expand(url)
        if codes is None:
            skipped.append(url)
        else:
            expanded[url] = {system: sorted(codes[system]) for system in sorted(codes)}
    print(f"required value sets: {len(expanded)} expanded, {len(skipped)} need outside terminologies: "
          + ", ".join(skipped))
    return expanded


def drop_unexpanded(types: dict[str, dict[str, Any]], expanded: dict[str, Any]) -> None:
    for entry in types.values():
        for row in entry["elements"]:
            if row[5] is not None and row[5] not in expanded:
                row[5] = None


# -- output -------------------------------------------------------------------------------------

def write_gz(name: str, payload: object) -> None:
    data = json.dumps(payload, separators=(",", ":"), sort_keys=False).encode()
    # mtime=0 keeps the output byte-identical between runs
    with open(OUT / name, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        gz.write(data)
    print(f"wrote {name}: {len(data):,} bytes uncompressed, {(OUT / name).stat().st_size:,} compressed")


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    source = Path(argv[1])
    sds = r4_structure_definitions(source)
    report_snapshot_differences(sds)
    required: set[str] = set()
    types = compile_types(sds, required)
    if set(ERRATA) != APPLIED:
        raise SystemExit(f"errata no longer apply: {sorted(set(ERRATA) - APPLIED)}; review ERRATA")
    value_sets = expand_required(source, required)
    drop_unexpanded(types, value_sets)
    resource_types = sorted(n for n, t in types.items() if t["kind"] == "resource" and not t["abstract"])
    sys.path.insert(0, str(ROOT))
    from resources.r4b_compat import matching_types  # the package's own comparison, kept next to its use

    r4b_types, r4b_unsafe, mismatches = matching_types(types, resource_types)
    print(f"{len(resource_types)} resource types; R4B models match R4 for {len(r4b_types)}; "
          f"R4B data type properties skipped: {r4b_unsafe}; differ for {len(mismatches)}:")
    for name in sorted(mismatches):
        print(f"  {name}: {mismatches[name][:150]}")
    OUT.mkdir(parents=True, exist_ok=True)
    write_gz("structure-definitions.json.gz", {
        "fhirVersion": FHIR_VERSION,
        "resourceTypes": resource_types,
        "r4bModelTypes": r4b_types,
        "r4bUnsafeProperties": r4b_unsafe,
        "types": types,
    })
    write_gz("required-value-sets.json.gz", value_sets)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
