"""The search parameters each resource type supports, from the official definitions and custom ones.

A `SearchParameter` definition may cover several resource types (`base`) with one expression whose
union parts name the types (`Patient.name | Practitioner.name`); the registry keeps, per resource type,
only the parts that apply to it, with `Resource.`/`DomainResource.` roots rewritten to the type
(https://hl7.org/fhir/R4/searchparameter.html).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from fhir_server.errors import BadRequest
from fhir_server.search.model import is_resource_type, resource_types
from fhir_server.search.paths import selection

__all__ = ["SearchParam", "Component", "SearchRegistry", "PARAM_TYPES", "RESOURCE_ROOT", "split_union",
           "expression_root"]

PARAM_TYPES = frozenset({"number", "date", "string", "token", "reference", "composite", "quantity", "uri", "special"})

# the parameter types one parameter may be the union of others of (`SearchParam.union_of`)
_UNITED_TYPES = frozenset({"number", "date", "string", "token", "composite", "quantity", "uri"})

# Types that derive from Resource but not DomainResource.
_NOT_DOMAIN = frozenset({"Bundle", "Binary", "Parameters"})


@dataclass(frozen=True, slots=True)
class Component:
    """One part of a composite parameter: the definition it reuses and the expression relative to the parent."""

    definition: str
    expression: str


@dataclass(frozen=True, slots=True)
class SearchParam:
    """A search parameter as it applies to one resource type."""

    code: str
    type: str
    resource_type: str
    expression: str | None
    url: str
    targets: tuple[str, ...] = ()
    components: tuple[Component, ...] = ()
    # a parameter whose elements are exactly those of others of its type (combo-code, `Observation.code
    # | Observation.component.code`: code and component-code), composites with the same components
    # (combo-code-value-quantity: code-value-quantity and component-code-value-quantity): it has no
    # index rows of its own, its searches and sorts ask those
    union_of: tuple[SearchParam, ...] = ()
    # a composite of the resource itself (`Observation`: code-value-quantity) whose every component
    # selects exactly the values of a plain parameter of its type (code, value-quantity): it has no
    # index rows of its own, its searches ask those parameters' rows of the same resource
    component_params: tuple[SearchParam, ...] = ()

    @property
    def row_codes(self) -> tuple[str, ...]:
        """The parameter codes its index rows are written under: its own, or those of its union."""
        return tuple(source.code for source in self.union_of) if self.union_of else (self.code,)

    @property
    def on_resource_table(self) -> bool:
        """`_id` and `_lastUpdated` are answered from the `resources` table, not from index rows."""
        return self.code in ("_id", "_lastUpdated")


def split_union(expression: str) -> list[str]:
    """Split a FHIRPath expression on its top-level `|` (not inside parentheses or quotes)."""
    parts: list[str] = []
    depth, quote, start = 0, "", 0
    for index, char in enumerate(expression):
        if quote:
            if char == quote and expression[index - 1] != "\\":
                quote = ""
        elif char in "'\"`":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            parts.append(expression[start:index].strip())
            start = index + 1
    parts.append(expression[start:].strip())
    return [part for part in parts if part]


# how a composite's component reads the resource rather than the element (`%resource.referenceSeq`)
RESOURCE_ROOT = "%resource."


@lru_cache(maxsize=4096)
def _indexed_selection(resource_type: str, expression: str, kind: str) -> frozenset[Any] | None:
    """What the parts of an expression select that may give `kind` rows (`paths.selection`); None
    when a part is not a fast-path expression."""
    from fhir_server.search.indexers import may_index  # the indexers' own imports need the registry

    selected = []
    for part in split_union(expression):
        found = selection(resource_type, part)
        if found is None:
            return None
        steps, types = found
        if any(may_index(kind, name) for name in types):
            selected.append(steps)
    return frozenset(selected)


def _rooted(resource_type: str, component: str) -> str:
    """A component's expression relative to the resource (`value.as(Quantity)` →
    `Observation.value.as(Quantity)`; `%resource.x` → `Observation.x`)."""
    return " | ".join(f"{resource_type}.{part.removeprefix(RESOURCE_ROOT)}" for part in split_union(component))


def _part_set(expression: str) -> frozenset[str]:
    """The union parts of an expression, with insignificant white space removed."""
    return frozenset("".join(part.split()) for part in split_union(expression))


def expression_root(part: str) -> str:
    """The leading identifier of an expression part: `(Observation.value as Quantity)` → `Observation`."""
    text = part.lstrip("( ")
    end = 0
    while end < len(text) and (text[end].isalnum() or text[end] == "_"):
        end += 1
    return text[:end]


def _bases(base: Iterable[str]) -> list[str]:
    types: list[str] = []
    for name in base:
        if name == "Resource":
            types.extend(sorted(resource_types()))
        elif name == "DomainResource":
            types.extend(sorted(resource_types() - _NOT_DOMAIN))
        else:
            types.append(name)
    return types


def _parts_for(resource_type: str, parts: list[str]) -> list[str]:
    chosen: list[str] = []
    for part in parts:
        root = expression_root(part)
        if root in ("Resource", "DomainResource"):
            index = part.index(root)
            chosen.append(part[:index] + resource_type + part[index + len(root):])
        elif root == resource_type or not is_resource_type(root):
            chosen.append(part)
    return chosen


class SearchRegistry:
    """(resource type, code) → `SearchParam`; build with `from_definitions()`, extend with `register()`."""

    def __init__(self) -> None:
        self._params: dict[str, dict[str, SearchParam]] = {}
        # canonical url -> parameter type, for the components of composite parameters
        self._types_by_url: dict[str, str] = {}
        # bumped by every change, so caches built from the registry (compiled extractors) know to rebuild
        self.generation = 0
        # per resource type: (generation, its parameters with `union_of` worked out)
        self._views: dict[str, tuple[int, dict[str, SearchParam]]] = {}
        # per target type: (generation, `referring`'s answer)
        self._referring: dict[str, tuple[int, tuple[tuple[str, tuple[str, ...]], ...]]] = {}

    @classmethod
    def from_definitions(cls, definitions: Iterable[Mapping[str, Any]] | None = None) -> SearchRegistry:
        """A registry of the official R4 parameters (or of `definitions`: SearchParameter dicts)."""
        if definitions is None:
            from resources.definitions import search_parameters

            definitions = search_parameters()
        registry = cls()
        for definition in definitions:
            registry.register(definition)
        return registry

    def register(self, definition: Mapping[str, Any]) -> list[SearchParam]:
        """Add (or replace) the parameter a SearchParameter resource defines, for each of its bases."""
        code, kind, base = definition.get("code"), definition.get("type"), definition.get("base")
        if not isinstance(code, str) or not code or not isinstance(base, list) or not base:
            raise BadRequest("a SearchParameter needs a code and at least one base")
        if kind not in PARAM_TYPES:
            raise BadRequest(f"SearchParameter '{code}' has an unknown type '{kind}'")
        unknown = [name for name in base if name not in ("Resource", "DomainResource") and not is_resource_type(name)]
        if unknown:
            raise BadRequest(f"SearchParameter '{code}' has unknown base types: {', '.join(unknown)}")
        expression = definition.get("expression")
        parts = split_union(expression) if isinstance(expression, str) else []
        components = tuple(
            Component(str(item.get("definition", "")), str(item.get("expression", "")))
            for item in definition.get("component") or ()
        )
        added: list[SearchParam] = []
        if isinstance(definition.get("url"), str):
            self._types_by_url[definition["url"]] = kind
        for resource_type in _bases(base):
            chosen = _parts_for(resource_type, parts)
            if parts and not chosen:
                continue
            param = SearchParam(
                code=code,
                type=kind,
                resource_type=resource_type,
                expression=" | ".join(chosen) if chosen else None,
                url=str(definition.get("url", "")),
                targets=tuple(definition.get("target") or ()),
                components=components,
            )
            self._params.setdefault(resource_type, {})[code] = param
            added.append(param)
        self.generation += 1
        return added

    def unregister(self, url: str) -> None:
        """Forget every parameter defined by the SearchParameter with this canonical url."""
        for params in self._params.values():
            for code in [code for code, param in params.items() if param.url == url]:
                del params[code]
        self.generation += 1

    def copy(self) -> SearchRegistry:
        """An independent registry with the same parameters (cheap: the parameters are immutable)."""
        other = SearchRegistry()
        other._params = {resource_type: dict(params) for resource_type, params in self._params.items()}
        other._types_by_url = dict(self._types_by_url)
        other.generation = self.generation
        return other

    def component_types(self, param: SearchParam) -> tuple[str, ...] | None:
        """The parameter types of a composite's components, in order; None if one is unknown."""
        types = tuple(self._types_by_url.get(component.definition, "") for component in param.components)
        return types if types and all(kind in PARAM_TYPES and kind not in ("composite", "special")
                                      for kind in types) else None

    def get(self, resource_type: str, code: str) -> SearchParam | None:
        return self._view(resource_type).get(code)

    def row_codes(self, resource_type: str, code: str) -> tuple[str, ...]:
        """The codes the index rows of `resource_type`'s parameter `code` are written under: its own,
        or those of the parameters it is the union of."""
        param = self.get(resource_type, code)
        return param.row_codes if param is not None else (code,)

    def referring(self, target_type: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """(type, parameter codes) of every reference parameter that can point at `target_type` (its
        targets name it, or name none), by the codes its rows are stored under: what `_revinclude=*`
        reads."""
        known = self._referring.get(target_type)
        if known is not None and known[0] == self.generation:
            return known[1]
        pairs = []
        for res_type in sorted(self._params):
            codes = sorted({code for param in self.params_for(res_type).values()
                            if param.type == "reference" and (not param.targets or target_type in param.targets)
                            for code in param.row_codes})
            if codes:
                pairs.append((res_type, tuple(codes)))
        self._referring[target_type] = (self.generation, tuple(pairs))
        return tuple(pairs)

    def params_for(self, resource_type: str) -> Mapping[str, SearchParam]:
        """Every parameter of the type, by code."""
        return self._view(resource_type)

    def _view(self, resource_type: str) -> dict[str, SearchParam]:
        known = self._views.get(resource_type)
        if known is not None and known[0] == self.generation:
            return known[1]
        params = self._params.get(resource_type, {})
        unions = {code: sources for code, param in params.items() if (sources := self._union_sources(param, params))}
        # parameters with rows of their own, the only ones a composite can be made of
        plain = [param for code, param in params.items() if code not in unions]
        view = dict(params)
        for code, param in params.items():
            if (found := self._component_sources(param, plain)):
                view[code] = replace(param, component_params=found)
        for code, sources in unions.items():
            view[code] = replace(view[code], union_of=tuple(view[source.code] for source in sources))
        self._views[resource_type] = (self.generation, view)
        return view

    def _component_sources(self, param: SearchParam, plain: list[SearchParam]) -> tuple[SearchParam, ...]:
        """For a composite whose element is the resource itself: per component, the parameter of
        `plain` of the component's type selecting the same values (the one the component's definition
        names first); () unless every component has one."""
        if param.type != "composite" or param.expression is None or param.expression.strip() != param.resource_type:
            return ()
        kinds = self.component_types(param)
        if kinds is None:
            return ()
        found = []
        for kind, component in zip(kinds, param.components, strict=True):
            wanted = _indexed_selection(param.resource_type, _rooted(param.resource_type, component.expression), kind)
            if not wanted:
                return ()
            same = sorted(
                (other for other in plain if other.type == kind and other.expression is not None
                 and not other.on_resource_table
                 and _indexed_selection(other.resource_type, other.expression, kind) == wanted),
                key=lambda other: (other.url != component.definition, other.code))
            if not same:
                return ()
            found.append(same[0])
        return tuple(found)

    def _union_sources(self, param: SearchParam, params: Mapping[str, SearchParam]) -> tuple[SearchParam, ...]:
        """The other parameters of the type and of `param`'s type whose expressions together are exactly
        `param`'s (composites: each with the same components, types and expressions); () when there are
        none. References are left out: the patient compartment is told from their own rows."""
        if param.type not in _UNITED_TYPES or param.expression is None or param.on_resource_table:
            return ()
        parts = _part_set(param.expression)
        shape = self._shape(param)
        if len(parts) < 2 or shape is None:
            return ()
        candidates = sorted(
            (other for other in params.values() if other is not param and other.type == param.type
             and other.expression is not None and not other.on_resource_table
             and _part_set(other.expression) < parts
             and self._shape(other) == shape
             and not self._union_sources(other, params)),
            key=lambda other: (-len(_part_set(other.expression or "")), other.code))
        chosen: list[SearchParam] = []
        covered: frozenset[str] = frozenset()
        for other in candidates:
            other_parts = _part_set(other.expression or "")
            if not other_parts & covered:
                chosen.append(other)
                covered |= other_parts
        return tuple(chosen) if covered == parts else ()

    def _shape(self, param: SearchParam) -> tuple[tuple[str, str], ...] | None:
        """A composite's components as (type, expression); () for other types; None if a type is unknown."""
        if param.type != "composite":
            return ()
        types = self.component_types(param)
        if types is None:
            return None
        return tuple((kind, component.expression.strip()) for kind, component in zip(types, param.components, strict=True))

    def supports(self, resource_type: str) -> bool:
        return resource_type in self._params

    @property
    def resource_types(self) -> frozenset[str]:
        return frozenset(self._params)
