"""The write side of search: a resource → the rows of every search index table.

`extract(registry, resource)` is pure: it evaluates every parameter of the resource's type and
turns the values into row dicts per index kind (the keys of `fhir_server.db.tables.SEARCH_INDEX_TABLES`),
each with `res_type` and `param` but no `resource_pk`, which the caller adds when writing. Rows are
deduplicated per parameter. `_id` and `_lastUpdated` are not indexed (they are columns of
`resources`); composite parameters are indexed per component, correlated by element (`composites`),
except those made of plain parameters' values (`SearchParam.component_params`) and unions of others
(`SearchParam.union_of`), which have no rows of their own; `_text` and `_content` as words (`content`).

Expressions are compiled once per (registry generation, resource type) and cached.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from weakref import WeakKeyDictionary

from fhir_server.search.composites import CompositePlan, compile_composite, composite_rows
from fhir_server.search.content import content_rows
from fhir_server.search.expressions import Evaluator, compile_expression, expression_keys
from fhir_server.search.indexers import INDEXERS, IndexOnce
from fhir_server.search.registry import SearchRegistry

__all__ = ["IndexRows", "INDEX_KINDS", "extract"]

IndexRows = dict[str, list[dict[str, Any]]]
INDEX_KINDS = ("string", "token", "date", "number", "quantity", "reference", "uri", "text")


@dataclass(frozen=True, slots=True)
class _Step:
    code: str
    evaluate: Evaluator
    kind: str  # the parameter type, the key of its indexer in INDEXERS
    # the top-level keys the expression reads first (`expression_keys`): a resource with none of them
    # has no value for it, and most parameters of a type are absent from any one resource
    keys: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class _Plan:
    steps: tuple[_Step, ...]
    composites: tuple[CompositePlan, ...]
    text: bool
    content: bool
    # the steps to run for a resource, found from its keys rather than by asking each step (an
    # Observation has a dozen keys, its type forty parameters): the numbers of those reading a key,
    # and of those to run whatever the resource holds
    by_key: dict[str, tuple[int, ...]] = field(default_factory=dict)
    always: tuple[int, ...] = ()

    def steps_for(self, resource: dict[str, Any]) -> list[_Step]:
        wanted = set(self.always)
        for key in resource:
            if (numbers := self.by_key.get(key)) is not None:
                wanted.update(numbers)
        return [self.steps[number] for number in sorted(wanted)]


@dataclass(slots=True)
class _Plans:
    generation: int
    by_type: dict[str, _Plan]


_cache: WeakKeyDictionary[SearchRegistry, _Plans] = WeakKeyDictionary()


def _build_plan(registry: SearchRegistry, resource_type: str) -> _Plan:
    steps: list[_Step] = []
    composites: list[CompositePlan] = []
    params = registry.params_for(resource_type)
    for code, param in sorted(params.items()):
        if param.union_of or param.component_params:
            continue  # searched through the rows of the parameters it is made of
        if param.type == "composite":
            if (composite := compile_composite(registry, param)) is not None:
                composites.append(composite)
            continue
        if param.type not in INDEXERS or param.expression is None or param.on_resource_table:
            continue
        evaluate = compile_expression(resource_type, param.expression)
        if evaluate is not None:
            steps.append(_Step(code, evaluate, param.type, expression_keys(resource_type, param.expression)))
    by_key: dict[str, list[int]] = {}
    for number, step in enumerate(steps):
        for key in step.keys or ():
            by_key.setdefault(key, []).append(number)
    return _Plan(tuple(steps), tuple(composites), "_text" in params, "_content" in params,
                 {key: tuple(numbers) for key, numbers in by_key.items()},
                 tuple(number for number, step in enumerate(steps) if step.keys is None))


def _plan(registry: SearchRegistry, resource_type: str) -> _Plan:
    plans = _cache.get(registry)
    if plans is None or plans.generation != registry.generation:
        plans = _Plans(registry.generation, {})
        _cache[registry] = plans
    plan = plans.by_type.get(resource_type)
    if plan is None:
        plan = plans.by_type[resource_type] = _build_plan(registry, resource_type)
    return plan


def extract(registry: SearchRegistry, resource: dict[str, Any]) -> IndexRows:
    """Every search index row of `resource`, per index kind (all kinds present, maybe empty)."""
    resource_type = resource.get("resourceType")
    rows: IndexRows = {kind: [] for kind in INDEX_KINDS}
    if not isinstance(resource_type, str):
        return rows
    plan = _plan(registry, resource_type)
    index = IndexOnce()
    for step in plan.steps_for(resource):
        values = step.evaluate(resource)
        if not values:
            continue
        found = index(step.kind, values)
        seen: set[tuple[Any, ...]] | None = set() if len(found) > 1 else None  # one row: nothing to deduplicate
        for kind, suffix, columns in found:
            if seen is not None:
                key = (kind, suffix, *columns.values())
                if key in seen:
                    continue
                seen.add(key)
            rows[kind].append({"res_type": resource_type, "param": step.code + suffix, **columns})
    for composite in plan.composites:
        seen = set()
        for kind, code, columns in composite_rows(composite, resource, index):
            key = (kind, code, *columns.values())
            if key not in seen:
                seen.add(key)
                rows[kind].append({"res_type": resource_type, "param": code, **columns})
    if plan.text or plan.content:
        rows["text"].extend({"res_type": resource_type, **row}
                              for row in content_rows(resource, text=plan.text, content=plan.content))
    return rows
