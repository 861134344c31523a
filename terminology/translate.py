"""ConceptMap/$translate: codes in other systems for a code (https://hl7.org/fhir/R4/conceptmap-operation-translate.html).

    translate(store, system="http://hl7.org/fhir/administrative-gender", code="male",
              targetsystem="http://terminology.hl7.org/CodeSystem/v2-0001")           # M, equal
    translate(store, system="http://terminology.hl7.org/CodeSystem/v2-0001", code="F",
              target="http://hl7.org/fhir/ValueSet/administrative-gender", reverse=True)  # v2 -> FHIR

The maps used are the one named (`url`, or the `conceptMap` resource), else every map whose source and
target value sets match `source` / `target` (swapped by `reverse`). The R4 maps between FHIR codes and
v2 tables go from FHIR to v2; `reverse=true` reads them from v2 to FHIR, turning each equivalence round
(`wider` <-> `narrower`, `subsumes` <-> `specializes`). A group's `unmapped` rule answers codes its elements
do not list (`provided`: the same code; `fixed`: the given code). `result` is true when some match is
neither `unmatched` nor `disjoint`.
"""

from __future__ import annotations

from typing import Any

from resources.errors import BadRequest, NotFound
from terminology.coding import Coded, coded_values
from terminology.operation_definition import narrowed
from terminology.parameters import Output
from terminology.store import TerminologyStore

__all__ = ["translate", "operation_definition"]

INPUTS = ("url", "conceptMap", "conceptMapVersion", "code", "system", "version", "source", "coding",
          "codeableConcept", "target", "targetsystem", "reverse")
REVERSED = {"wider": "narrower", "narrower": "wider", "subsumes": "specializes", "specializes": "subsumes"}
NOT_A_MATCH = frozenset({"unmatched", "disjoint"})


def translate(
    store: TerminologyStore, *, url: str | None = None, concept_map: dict[str, Any] | None = None,
    concept_map_version: str | None = None, code: str | None = None, system: str | None = None,
    version: str | None = None, source: str | None = None, coding: dict[str, Any] | None = None,
    codeable_concept: dict[str, Any] | None = None, target: str | None = None,
    targetsystem: str | None = None, reverse: bool | None = None,
) -> dict[str, Any]:
    """ConceptMap/$translate: a Parameters with `result`, `message` and the `match`es."""
    if url is not None and concept_map is not None:
        raise BadRequest("ConceptMap/$translate takes one of url and conceptMap, not both")
    codings = coded_values(operation="translate", code=code, system=system, version=version, coding=coding,
                           codeable_concept=codeable_concept)
    backwards = bool(reverse)
    maps = _maps(store, url, concept_map, concept_map_version, source, target, backwards)
    matches: list[tuple[str, dict[str, Any], str]] = []
    for coded in codings:
        for cmap in maps:
            found = _reverse_matches(cmap, coded) if backwards else _matches(cmap, coded)
            for equivalence, concept in found:
                if targetsystem is None or concept.get("system") == targetsystem:
                    matches.append((equivalence, _with_display(store, concept), cmap.get("url", "")))
    out = Output()
    result = any(eq not in NOT_A_MATCH for eq, _, _ in matches)
    out.add("result", "valueBoolean", result)
    if not matches:
        asked = ", ".join(c.label() for c in codings)
        out.add("message", "valueString", f"No mapping found for {asked}"
                + (f" in {len(maps)} concept map(s)" if maps else ": no concept map applies"))
    elif not result:
        out.add("message", "valueString", "Only unmatched or disjoint mappings were found")
    for equivalence, concept, map_url in matches:
        parts: list[dict[str, Any]] = [{"name": "equivalence", "valueCode": equivalence}]
        if concept.get("code") is not None:
            parts.append({"name": "concept", "valueCoding": concept})
        parts.append({"name": "source", "valueUri": map_url})
        out.part("match", parts)
    return out.resource()


def _maps(store: TerminologyStore, url: str | None, concept_map: dict[str, Any] | None, version: str | None,
          source: str | None, target: str | None, backwards: bool) -> list[dict[str, Any]]:
    if concept_map is not None:
        if concept_map.get("resourceType") != "ConceptMap":
            raise BadRequest("The conceptMap parameter must be a ConceptMap resource")
        return [concept_map]
    if url is not None:
        found = store.concept_map(url, version)
        if found is None:
            raise NotFound(f"ConceptMap '{url}' is not known to this server")
        return [found]
    if backwards:
        source, target = target, source
    return [m for m in store.concept_maps() if _scope(m, "source", source) and _scope(m, "target", target)]


def _scope(cmap: dict[str, Any], side: str, wanted: str | None) -> bool:
    if wanted is None:
        return True
    declared = cmap.get(f"{side}Uri") or cmap.get(f"{side}Canonical")
    return declared is not None and declared.split("|", 1)[0] == wanted.split("|", 1)[0]


def _matches(cmap: dict[str, Any], coded: Coded) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for group in cmap.get("group", []):
        if group.get("source") not in (None, coded.system):
            continue
        listed = False
        for element in group.get("element", []):
            if element.get("code") != coded.code:
                continue
            listed = True
            for mapped in element.get("target", []):
                found.append((mapped.get("equivalence", "equivalent"),
                              _coding(group.get("target"), mapped.get("code"), mapped.get("display"))))
        unmapped = group.get("unmapped")
        if not listed and unmapped:
            if unmapped.get("mode") == "provided":
                found.append(("equal", _coding(group.get("target"), coded.code, coded.display)))
            elif unmapped.get("mode") == "fixed":
                found.append(("equivalent",
                              _coding(group.get("target"), unmapped.get("code"), unmapped.get("display"))))
    return found


def _reverse_matches(cmap: dict[str, Any], coded: Coded) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for group in cmap.get("group", []):
        if group.get("target") not in (None, coded.system):
            continue
        for element in group.get("element", []):
            for mapped in element.get("target", []):
                if mapped.get("code") == coded.code and element.get("code") is not None:
                    equivalence = mapped.get("equivalence", "equivalent")
                    found.append((REVERSED.get(equivalence, equivalence),
                                  _coding(group.get("source"), element["code"], element.get("display"))))
    return found


def _with_display(store: TerminologyStore, coding: dict[str, Any]) -> dict[str, Any]:
    """The coding with its display from the code system, when the map gives none and the system is known."""
    if "display" in coding or "code" not in coding or "system" not in coding:
        return coding
    cs = store.code_system(coding["system"])
    concept = cs.get(coding["code"]) if cs is not None else None
    return {**coding, "display": concept.display} if concept is not None and concept.display else coding


def _coding(system: str | None, code: str | None, display: str | None) -> dict[str, Any]:
    coding: dict[str, Any] = {}
    if system:
        coding["system"] = system
    if code is not None:
        coding["code"] = code
    if display:
        coding["display"] = display
    return coding


def operation_definition(base_url: str | None = None) -> dict[str, Any]:
    """The OperationDefinition of ConceptMap/$translate as this server implements it."""
    return narrowed("ConceptMap-translate", inputs=INPUTS, base_url=base_url,
                    comment="dependency is not supported; maps with dependsOn are applied without checking it.")
