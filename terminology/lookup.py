"""CodeSystem/$lookup: the details of one concept (https://hl7.org/fhir/R4/codesystem-operation-lookup.html).

    lookup(store, system="http://loinc.org", code="2160-0", property=["COMPONENT"])

Returns `name`, `version`, `display`, `definition`, the designations and the properties: those the
concept carries, `parent` and `child` for its neighbours in the hierarchy, and `inactive`. With
`property` only the named ones come back (`designation`, `definition`, `parent`, `child`, `lang.X`
and the code system's own property codes). An unknown system or code is NotFound.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from resources.errors import NotFound
from terminology.code_system import CodeSystem, Concept, property_value
from terminology.coding import coded_values
from terminology.operation_definition import narrowed
from terminology.parameters import Output
from terminology.store import TerminologyStore

__all__ = ["lookup", "operation_definition"]

INPUTS = ("code", "system", "version", "coding", "date", "displayLanguage", "property")
DEFINITION_OUTPUT = {"name": "definition", "use": "out", "min": 0, "max": "1", "type": "string",
                     "documentation": "The definition of the concept (as in R5's $lookup)"}


def lookup(store: TerminologyStore, *, code: str | None = None, system: str | None = None,
           version: str | None = None, coding: dict[str, Any] | None = None, date: str | None = None,
           display_language: str | None = None, property: Sequence[str] = ()) -> dict[str, Any]:
    """CodeSystem/$lookup; `date` is accepted and ignored (one version of each code system is held)."""
    wanted = coded_values(operation="lookup", code=code, system=system, version=version, coding=coding)[0]
    cs = store.require_code_system(wanted.system or "", wanted.version or version)
    concept = cs.get(wanted.code)
    if concept is None:
        raise NotFound(f"Unknown code '{wanted.code}' in CodeSystem '{cs.url}'" + cs.coverage_note())
    return details(cs, concept, display_language=display_language, requested=list(property))


def details(cs: CodeSystem, concept: Concept, *, display_language: str | None = None,
            requested: list[str] | None = None) -> dict[str, Any]:
    """The $lookup Parameters for one concept."""
    show = _Selection(requested or [])
    out = Output().add("name", "valueString", cs.name)
    if cs.version:
        out.add("version", "valueString", cs.version)
    out.add("display", "valueString", concept.display_in(display_language) or concept.code)
    if concept.definition and show.wants("definition"):
        out.add("definition", "valueString", concept.definition)
    for designation in concept.designations:
        if show.wants_designation(designation.get("language")):
            parts: list[dict[str, Any]] = []
            if designation.get("language"):
                parts.append({"name": "language", "valueCode": designation["language"]})
            if designation.get("use"):
                parts.append({"name": "use", "valueCoding": designation["use"]})
            parts.append({"name": "value", "valueString": designation["value"]})
            out.part("designation", parts)
    for prop in concept.properties:
        pair = property_value(prop)
        if pair is not None and show.wants(prop["code"]):
            out.part("property", [{"name": "code", "valueCode": prop["code"]}, {"name": "value", pair[0]: pair[1]}])
    if show.wants("inactive") and (concept.inactive or "inactive" in show.names):
        out.part("property", [{"name": "code", "valueCode": "inactive"},
                              {"name": "value", "valueBoolean": concept.inactive}])
    for relation, codes in (("parent", concept.parents), ("child", concept.children)):
        if not show.wants(relation):
            continue
        for related in codes:
            parts = [{"name": "code", "valueCode": relation}, {"name": "value", "valueCode": related}]
            other = cs.get(related)
            if other is not None and other.display:
                parts.append({"name": "description", "valueString": other.display})
            out.part("property", parts)
    return out.resource()


class _Selection:
    """Which properties the caller asked for (all when none were named)."""

    def __init__(self, names: list[str]) -> None:
        self.names = set(names)
        self.languages = {n[len("lang."):].lower() for n in names if n.startswith("lang.")}

    def wants(self, name: str) -> bool:
        return not self.names or name in self.names

    def wants_designation(self, language: str | None) -> bool:
        if not self.names or "designation" in self.names:
            return True
        return bool(language) and str(language).lower() in self.languages


def operation_definition(base_url: str | None = None) -> dict[str, Any]:
    """The OperationDefinition of CodeSystem/$lookup as this server implements it."""
    return narrowed("CodeSystem-lookup", inputs=INPUTS, extra_outputs=[DEFINITION_OUTPUT], base_url=base_url,
                    comment="The date parameter is accepted and ignored: the server holds one version of "
                            "each code system unless several are loaded, and `version` selects among them.")
