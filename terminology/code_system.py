"""A CodeSystem compiled for look-ups: concepts by code, the subsumption hierarchy, properties.

Built from a CodeSystem resource (https://hl7.org/fhir/R4/codesystem.html) and any supplements of it.
The hierarchy is the nesting of `concept` plus the `parent` and `child` properties
(http://hl7.org/fhir/concept-properties), which the v3 code systems use for concepts with more than one
parent. A concept is *inactive* when its `status` is `retired` or `inactive`, or its `inactive` property is
true (`deprecated` concepts are still active); it is *abstract* when `notSelectable` or `abstract` is true.

The concept index is built on first use: a store holds a thousand code systems but a process looks at few.
Building twice from two threads gives the same result, so the race is harmless.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Concept", "CodeSystem", "property_value"]

INACTIVE_STATUSES = frozenset({"retired", "inactive"})
HIERARCHY_PROPERTIES = frozenset({"parent", "child", "subsumedBy"})


def property_value(prop: dict[str, Any]) -> tuple[str, Any] | None:
    """The `value[x]` of a concept property (or Parameters part) as (`valueCode`, value)."""
    for key, value in prop.items():
        if key.startswith("value"):
            return key, value
    return None


@dataclass(slots=True)
class Concept:
    """One concept of a code system, with its place in the hierarchy."""

    code: str
    display: str | None = None
    definition: str | None = None
    designations: list[dict[str, Any]] = field(default_factory=list)
    properties: list[dict[str, Any]] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    abstract: bool = False
    inactive: bool = False

    def values(self, code: str) -> list[Any]:
        """The values of property `code` (a Coding gives its code)."""
        found = []
        for prop in self.properties:
            if prop.get("code") != code:
                continue
            pair = property_value(prop)
            if pair is not None:
                value = pair[1]
                found.append(value.get("code") if isinstance(value, dict) else value)
        return found

    def display_in(self, language: str | None) -> str | None:
        """The display in `language` (a designation in that language, or its primary language, with no
        other use than display), else the display. `nl-BE` takes an `nl` designation; `nl` an `nl-BE` one."""
        if language and self.designations:
            wanted = language.lower()
            primary = wanted.split("-")[0]
            fallback: str | None = None
            for designation in self.designations:
                lang = str(designation.get("language", "")).lower()
                if not lang or designation.get("use", {}).get("code") not in (None, "display"):
                    continue
                if lang == wanted:
                    return str(designation["value"])
                if fallback is None and lang.split("-")[0] == primary:
                    fallback = str(designation["value"])
            if fallback is not None:
                return fallback
        return self.display


class CodeSystem:
    """A compiled CodeSystem: `get(code)`, `ancestors`, `descendants`, `subsumes`."""

    def __init__(self, resource: dict[str, Any], supplements: Iterable[dict[str, Any]] = ()) -> None:
        self.resource = {k: v for k, v in resource.items() if k != "concept"}
        self.url: str = resource["url"]
        self.version: str | None = resource.get("version")
        self.name: str = resource.get("name") or resource.get("title") or self.url
        self.content: str = resource.get("content", "complete")
        # FHIR leaves case sensitivity open when absent; codes are compared exactly unless it says false
        self.case_sensitive: bool = resource.get("caseSensitive", True) is not False
        self.hierarchy_meaning: str | None = resource.get("hierarchyMeaning")
        self.value_set: str | None = resource.get("valueSet")
        self.declared: dict[str, dict[str, Any]] = {p["code"]: p for p in resource.get("property", [])}
        self._source = resource.get("concept", [])
        self._supplements = list(supplements)
        self._concepts: dict[str, Concept] | None = None
        self._folded: dict[str, str] = {}
        self._ancestors: dict[str, frozenset[str]] = {}
        self._descendants: dict[str, frozenset[str]] = {}

    def __repr__(self) -> str:
        return f"CodeSystem({self.url!r}, version={self.version!r}, content={self.content!r})"

    @property
    def complete(self) -> bool:
        """Whether this server holds every concept of the code system (not a fragment, example...)."""
        return self.content == "complete"

    def coverage_note(self) -> str:
        """A note for messages about unknown codes when this server does not hold the whole code system."""
        if self.complete:
            return ""
        if self.content == "not-present":
            return " (this server holds none of the concepts of that code system)"
        return f" (this server holds a {self.content} of that code system, not all of it)"

    @property
    def concepts(self) -> dict[str, Concept]:
        concepts = self._concepts
        if concepts is None:
            concepts = self._build()
        return concepts

    def __iter__(self) -> Iterator[Concept]:
        return iter(self.concepts.values())

    def __len__(self) -> int:
        return len(self.concepts)

    def get(self, code: str) -> Concept | None:
        concept = self.concepts.get(code)
        if concept is None and not self.case_sensitive:
            folded = self._folded.get(code.lower())
            concept = self.concepts.get(folded) if folded is not None else None
        return concept

    def ancestors(self, code: str) -> frozenset[str]:
        """Every concept that subsumes `code`, transitively (not `code` itself)."""
        return self._closure(code, self._ancestors, "parents")

    def descendants(self, code: str) -> frozenset[str]:
        """Every concept `code` subsumes, transitively (not `code` itself)."""
        return self._closure(code, self._descendants, "children")

    def subsumes(self, general: str, specific: str) -> bool:
        """Whether `general` is `specific` or one of its ancestors."""
        return general == specific or general in self.ancestors(specific)

    # -- building ------------------------------------------------------------------------------------

    def _closure(self, code: str, cache: dict[str, frozenset[str]], link: str) -> frozenset[str]:
        cached = cache.get(code)
        if cached is not None:
            return cached
        concepts = self.concepts
        seen: set[str] = set()
        stack = list(getattr(concepts[code], link)) if code in concepts else []
        while stack:
            current = stack.pop()
            if current in seen or current == code:
                continue
            seen.add(current)
            if current in concepts:
                stack.extend(getattr(concepts[current], link))
        result = frozenset(seen)
        cache[code] = result
        return result

    def _build(self) -> dict[str, Concept]:
        concepts: dict[str, Concept] = {}
        edges: list[tuple[str, str]] = []  # (parent, child)

        def walk(nodes: list[dict[str, Any]], parent: str | None) -> None:
            for node in nodes:
                code = node["code"]
                concept = concepts.get(code)
                if concept is None:
                    concept = concepts[code] = _concept(node)
                if parent is not None:
                    edges.append((parent, code))
                for prop in node.get("property", []):
                    value = property_value(prop)
                    if prop.get("code") in ("parent", "subsumedBy") and value is not None:
                        edges.append((_code_of(value[1]), code))
                    elif prop.get("code") == "child" and value is not None:
                        edges.append((code, _code_of(value[1])))
                walk(node.get("concept", []), code)

        walk(self._source, None)
        for parent, child in edges:
            if parent in concepts and child in concepts and parent != child:
                if parent not in concepts[child].parents:
                    concepts[child].parents.append(parent)
                if child not in concepts[parent].children:
                    concepts[parent].children.append(child)
        for supplement in self._supplements:
            _apply_supplement(concepts, supplement.get("concept", []))
        if not self.case_sensitive:
            self._folded = {code.lower(): code for code in concepts}
        self._concepts = concepts
        return concepts


def _code_of(value: Any) -> str:
    return str(value.get("code")) if isinstance(value, dict) else str(value)


def _concept(node: dict[str, Any]) -> Concept:
    properties = [p for p in node.get("property", []) if p.get("code") not in HIERARCHY_PROPERTIES]
    concept = Concept(
        code=node["code"],
        display=node.get("display"),
        definition=node.get("definition"),
        designations=list(node.get("designation", [])),
        properties=properties,
    )
    for prop in properties:
        pair = property_value(prop)
        if pair is None:
            continue
        name, value = prop.get("code"), pair[1]
        if name in ("notSelectable", "abstract") and value is True:
            concept.abstract = True
        elif (name == "status" and value in INACTIVE_STATUSES) or (name == "inactive" and value is True):
            concept.inactive = True
    return concept


def _apply_supplement(concepts: dict[str, Concept], nodes: list[dict[str, Any]]) -> None:
    for node in nodes:
        concept = concepts.get(node["code"])
        if concept is not None:
            concept.designations.extend(node.get("designation", []))
            concept.properties.extend(node.get("property", []))
        _apply_supplement(concepts, node.get("concept", []))
