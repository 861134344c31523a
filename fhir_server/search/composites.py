"""Index rows of composite parameters, correlated per element (https://hl7.org/fhir/R4/search.html#composite).

A composite parameter selects elements (`Observation`, `Observation.component`, a `useContext`) and
reads each component relative to the element (`code`, `value.as(Quantity)`). Each component value
is indexed like a plain parameter of its type, in that type's index table, under the parameter code
`code-value-quantity$0`, `code-value-quantity$1`... with the element's number in the `element`
column, so a search joins the component rows of one element: `code-value-quantity=8480-6$gt140`
finds a systolic pressure over 140, never a systolic code on one component and 150 on another.
A composite whose element is the resource itself and whose components are plain parameters' values
(code-value-quantity: code and value-quantity) is searched through those rows and has none here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from fhir_server.search.expressions import Evaluator, compile_expression, expression_keys
from fhir_server.search.indexers import IndexOnce
from fhir_server.search.paths import PathFunction, Typed, compile_path, compile_relative, leading_keys
from fhir_server.search.registry import RESOURCE_ROOT, SearchParam, SearchRegistry, split_union

__all__ = ["CompositePlan", "compile_composite", "composite_rows", "component_code"]

Component = Callable[[Any, dict[str, Any]], list[Typed]]


def component_code(code: str, index: int) -> str:
    """The `param` under which component `index` of composite `code` is indexed."""
    return f"{code}${index}"


@dataclass(frozen=True, slots=True)
class CompositePlan:
    code: str
    resource_type: str
    elements: Evaluator
    components: tuple[tuple[str, str], ...]  # (parameter type, expression relative to the element)
    # what a resource must hold to have any row (`_needs`): for one of the alternatives, one key of
    # each of its sets; None: always evaluated
    needs: tuple[tuple[frozenset[str], ...], ...] | None = None


def compile_composite(registry: SearchRegistry, param: SearchParam) -> CompositePlan | None:
    kinds = registry.component_types(param)
    if kinds is None or param.expression is None:
        return None
    elements = compile_expression(param.resource_type, param.expression)
    if elements is None:
        return None
    components = tuple((kind, component.expression) for kind, component in zip(kinds, param.components, strict=True))
    return CompositePlan(param.code, param.resource_type, elements, components,
                         _needs(param.resource_type, param.expression, components))


def _needs(resource_type: str, expression: str,
           components: tuple[tuple[str, str], ...]) -> tuple[tuple[frozenset[str], ...], ...] | None:
    """What a resource must hold to have rows of the composite, per part of its element expression:
    the keys an element part is read from (`Observation.component`), or, for the resource itself as
    the element, the keys each component reads (a row needs every component). None: not known."""
    alternatives = []
    for part in split_union(expression):
        if part.strip() == resource_type:
            alternatives.append(tuple(keys for _, component in components
                                      if (keys := _component_keys(resource_type, component)) is not None))
            continue
        keys = expression_keys(resource_type, part)
        if keys is None:
            return None
        alternatives.append((keys,))
    return tuple(alternatives)


def _component_keys(resource_type: str, expression: str) -> frozenset[str] | None:
    """The keys of the resource a component of the resource itself reads (empty: a component that
    never has a value, none of its paths compiling); None when not known."""
    keys: set[str] = set()
    for rooted, path, _ in _component_parts(resource_type, resource_type, expression):
        found = leading_keys(resource_type, path, rooted=rooted)
        if found is None:
            return None
        keys |= found
    return frozenset(keys)


def _possible(plan: CompositePlan, resource: dict[str, Any]) -> bool:
    """False when the resource lacks what every element of the composite needs (most resources of a
    type have no rows of most of its composites; this is asked of each)."""
    if plan.needs is None:
        return True
    for alternative in plan.needs:
        for keys in alternative:
            if keys.isdisjoint(resource):
                break
        else:
            return True
    return False


def _component_parts(resource_type: str, owner: str,
                     expression: str) -> Iterator[tuple[bool, str, PathFunction]]:
    """The union parts of a component that compile: (rooted at the resource, the path, its walker).
    `%resource.x` parts read the resource, the others the element (of type `owner`)."""
    for part in split_union(expression):
        if part.startswith(RESOURCE_ROOT):
            rooted = f"{resource_type}.{part.removeprefix(RESOURCE_ROOT)}"
            if (path := compile_path(resource_type, rooted)) is not None:
                yield True, rooted, path
        elif (relative := compile_relative(owner, part)) is not None:
            yield False, part, relative


@lru_cache(maxsize=4096)
def _component(resource_type: str, owner: str, expression: str) -> Component | None:
    """A function of (element, resource) giving the component's values; None if it cannot be compiled."""
    parts: list[Component] = [
        (lambda element, resource, walk=walk: walk(resource)) if rooted else
        (lambda element, resource, walk=walk: walk(element))
        for rooted, _, walk in _component_parts(resource_type, owner, expression)]
    if not parts:
        return None
    return lambda element, resource: [value for part in parts for value in part(element, resource)]


def composite_rows(plan: CompositePlan, resource: dict[str, Any],
                   indexed: IndexOnce | None = None) -> list[tuple[str, str, dict[str, Any]]]:
    """(index kind, param, columns) of every component of every element having all its components
    (`indexed`: the resource's `IndexOnce`, shared with its other parameters). A list, not a
    generator: asked of every composite of every resource written, it usually has none."""
    if not _possible(plan, resource):
        return []
    indexed = indexed or IndexOnce()
    found_rows: list[tuple[str, str, dict[str, Any]]] = []
    for number, (element, owner) in enumerate(plan.elements(resource)):
        if not owner or not isinstance(element, dict):
            continue
        rows: list[tuple[str, str, dict[str, Any]]] = []
        for index, (kind, expression) in enumerate(plan.components):
            function = _component(plan.resource_type, owner, expression)
            values = function(element, resource) if function is not None else []
            found = [(row_kind, columns) for row_kind, suffix, columns in indexed(kind, values) if not suffix]
            if not found:
                rows = []
                break
            code = component_code(plan.code, index)
            rows.extend((row_kind, code, {**columns, "element": number}) for row_kind, columns in found)
        found_rows.extend(rows)
    return found_rows
