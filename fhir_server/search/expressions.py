"""Search parameter expressions compiled once into functions of a resource.

Each union part of an expression goes through the fast path (`paths.compile_path`) when it is plain
navigation, else through fhirpathpy compiled with the R4 model (so choice types resolve) after two
rewrites fhirpathpy needs:

- `resolve()` is not implemented: `X.where(resolve() is T)` becomes a test of the reference's text
  or `type` (the target type is all a search index needs from it);
- `as` demands a single item, so `X as T` and `X.as(T)` become `X.ofType(T)`, which filters a collection.

The result is a list of `(value, FHIR type name)` pairs, the type telling the indexers how to read
the value (a `Period` and a `dateTime` index differently as dates).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from decimal import Decimal
from functools import lru_cache
from typing import Any

import fhirpathpy
from fhirpathpy.engine.nodes import ResourceNode

from fhir_server.search.model import R4_MODEL
from fhir_server.search.paths import PathFunction, Typed, compile_path, leading_keys
from fhir_server.search.registry import split_union

__all__ = ["Evaluator", "compile_expression", "expression_keys", "rewrite_for_fhirpathpy"]

log = logging.getLogger(__name__)

Evaluator = Callable[[dict[str, Any]], list[Typed]]

_RESOLVE_IS = re.compile(r"\.where\(\s*resolve\(\)\s+is\s+(\w+)\s*\)")
_AS_CALL = re.compile(r"\.as\(\s*(\w+)\s*\)")
_AS_OPERATOR = re.compile(r"\s+as\s+(\w+)")
_OPTIONS = {"returnRawData": True}
# `Patient.deceased.exists() and Patient.deceased != false`: true for `true` or a date, else false
_PRESENT_NOT_FALSE = re.compile(r"(?P<path>[\w.]+)\.exists\(\)\s+and\s+(?P=path)\s*!=\s*false")


def rewrite_for_fhirpathpy(expression: str) -> str:
    """Replace what fhirpathpy cannot run (`resolve() is T`, `as` on collections) by equivalents."""
    expression = _RESOLVE_IS.sub(
        lambda m: (f".where(type = '{m[1]}' or reference.startsWith('{m[1]}/') "
                   f"or reference.contains('/{m[1]}/'))"),
        expression,
    )
    expression = _AS_CALL.sub(r".ofType(\1)", expression)
    return _AS_OPERATOR.sub(r".ofType(\1)", expression)


def _typed(item: Any) -> Typed | None:
    if isinstance(item, ResourceNode):
        if item.data is None:
            return None
        path = item.path or ""
        kind = path.removeprefix("System.").lower() if path.startswith("System.") else path
        return item.data, kind
    if isinstance(item, bool):
        return item, "boolean"
    if isinstance(item, str):
        return item, "string"
    if isinstance(item, int):
        return item, "integer"
    if isinstance(item, Decimal):
        return item, "decimal"
    if isinstance(item, dict):
        return item, ""
    return None


def _fhirpath_function(expression: str, resource_type: str) -> PathFunction | None:
    rewritten = rewrite_for_fhirpathpy(expression)
    try:
        compiled = fhirpathpy.compile(rewritten, model=R4_MODEL, options=_OPTIONS)
        # the parser recovers from many errors; a trial run on an empty resource finds the rest
        compiled({"resourceType": resource_type}, None)
    except Exception:  # fhirpathpy raises bare Exceptions (and KeyErrors) for syntax errors
        log.warning("search expression cannot be compiled, it is not indexed: %s", expression)
        return None

    def run(resource: dict[str, Any]) -> list[Typed]:
        try:
            items = compiled(resource, None)
        except Exception:  # a runtime error in one expression must not stop the write
            log.warning("search expression failed on %s/%s: %s", resource.get("resourceType"),
                        resource.get("id"), expression, exc_info=True)
            return []
        return [typed for item in items if (typed := _typed(item)) is not None]

    return run


def _present_not_false(path: PathFunction) -> PathFunction:
    def run(resource: dict[str, Any]) -> list[Typed]:
        values = path(resource)
        return [(bool(values) and not (len(values) == 1 and values[0][0] is False), "boolean")]

    return run


def _compile_part(resource_type: str, part: str) -> PathFunction | None:
    if (match := _PRESENT_NOT_FALSE.fullmatch(part)) and (inner := compile_path(resource_type, match["path"])):
        return _present_not_false(inner)
    fast = compile_path(resource_type, part)
    if fast is None and part[:1].islower():
        # a path relative to the resource (`name | alias` in InsurancePlan-name)
        fast = compile_path(resource_type, f"{resource_type}.{part}")
    return fast or _fhirpath_function(part, resource_type)


def _part_keys(resource_type: str, part: str) -> frozenset[str] | None:
    if _PRESENT_NOT_FALSE.fullmatch(part):
        return None  # selects `false` from a resource without the element
    keys = leading_keys(resource_type, part)
    if keys is None and compile_path(resource_type, part) is None and part[:1].islower():
        keys = leading_keys(resource_type, f"{resource_type}.{part}")
    return keys


@lru_cache(maxsize=8192)
def expression_keys(resource_type: str, expression: str) -> frozenset[str] | None:
    """The top-level JSON keys of a `resource_type` resource of which the compiled expression reads at
    least one to select anything (so a resource with none of them is skipped unread); None when not
    known for every union part (fhirpathpy parts, paths that do not start with a field)."""
    keys: set[str] = set()
    for part in split_union(expression):
        found = _part_keys(resource_type, part)
        if found is None:
            return None
        keys |= found
    return frozenset(keys)


@lru_cache(maxsize=8192)
def compile_expression(resource_type: str, expression: str) -> Evaluator | None:
    """A function of a resource returning the typed values the expression selects; None if hopeless.

    Cached: registries built alike (one per runtime) share the compiled functions."""
    functions = [
        function
        for part in split_union(expression)
        if (function := _compile_part(resource_type, part)) is not None
    ]
    if not functions:
        return None
    if len(functions) == 1:
        return functions[0]

    def union(resource: dict[str, Any]) -> list[Typed]:
        values: list[Typed] = []
        for function in functions:
            values.extend(function(resource))
        return values

    return union
