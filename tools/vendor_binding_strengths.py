"""Compile the R4 `extensible` and `preferred` bindings into `resources/definitions/` for the validator.

Run from the repository root with the FHIR R4 definition files at hand:

    python tools/vendor_binding_strengths.py ../shared/fhir-r4

It writes `binding-strengths.json.gz` (gzip, mtime=0): `bindings`, per type, the element paths (as in
`structure-definitions.json.gz`) with an extensible or preferred binding, `[strength, value set url]`;
and `valueSets`, the codes by code system of each such value set the specification enumerates itself.
Bindings to value sets drawn from outside terminologies (SNOMED CT, LOINC, UCUM...) are left out: a
code the server cannot judge gets no warning. Read from the differentials, like
`vendor_structure_definitions.py` (whose helpers this uses), so inherited elements take their base
type's binding at run time.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from vendor_structure_definitions import (  # noqa: E402
    Expander,
    r4_structure_definitions,
    relative,
    terminology,
    write_gz,
)

STRENGTHS = ("extensible", "preferred")


def collect(sds: dict[str, dict[str, Any]]) -> dict[str, dict[str, list[str]]]:
    bindings: dict[str, dict[str, list[str]]] = {}
    for name, sd in sorted(sds.items()):
        for element in sd["differential"]["element"][1:]:
            spec = element.get("binding")
            if not spec or spec.get("strength") not in STRENGTHS or "valueSet" not in spec:
                continue
            rel = relative(sd, element["path"])
            bindings.setdefault(name, {})[rel] = [spec["strength"], spec["valueSet"].split("|", 1)[0]]
    return bindings


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    source = Path(argv[1])
    bindings = collect(r4_structure_definitions(source))
    expander = Expander(*terminology(source))
    value_sets: dict[str, dict[str, list[str]]] = {}
    for url in sorted({url for paths in bindings.values() for _, url in paths.values()}):
        codes = expander.expand(url)
        if codes is not None:
            value_sets[url] = {system: sorted(codes[system]) for system in sorted(codes)}
    kept = {name: {path: binding for path, binding in sorted(paths.items()) if binding[1] in value_sets}
            for name, paths in bindings.items()}
    kept = {name: paths for name, paths in kept.items() if paths}
    print(f"{sum(len(p) for p in bindings.values())} extensible/preferred bindings; "
          f"{sum(len(p) for p in kept.values())} to the {len(value_sets)} value sets the specification enumerates")
    write_gz("binding-strengths.json.gz", {"bindings": kept, "valueSets": value_sets})
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
