"""The result parameters of a search: what to return rather than what to match.

`_count _sort _include _revinclude _summary _elements _total _contained _containedType _format
_pretty` (https://hl7.org/fhir/R4/search.html#return), plus `_cursor`, this server's opaque paging
position carried in the `next` links it writes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace

from fhir_server.errors import BadRequest
from fhir_server.search.query import Include, ResultParams, SortKey
from fhir_server.search.refusals import NotSupported, UnknownParameter
from fhir_server.search.registry import SearchParam, SearchRegistry

__all__ = ["RESULT_PARAMS", "SORTABLE_TYPES", "parse_result_params"]

RESULT_PARAMS = frozenset({
    "_count", "_sort", "_include", "_revinclude", "_summary", "_elements", "_total", "_contained",
    "_containedType", "_format", "_pretty", "_cursor",
})
SORTABLE_TYPES = frozenset({"string", "token", "date", "number", "quantity", "uri"})

_CHOICES = {
    "_summary": ("true", "text", "data", "count", "false"),
    "_total": ("none", "estimate", "accurate"),
    "_contained": ("true", "false", "both"),
    "_containedType": ("container", "contained"),
    "_pretty": ("true", "false"),
}


def _count(value: str) -> int:
    if not value.isdigit():
        raise BadRequest(f"_count must be a non-negative integer, got '{value}'")
    return int(value)


Lookup = Callable[[str], SearchParam | None]


def _sort(lookup: Lookup, resource_type: str, value: str) -> tuple[SortKey, ...]:
    keys: list[SortKey] = []
    for item in value.split(","):
        item = item.strip()
        descending = item.startswith("-")
        code = item.removeprefix("-")
        if not code:
            continue
        param = lookup(code)
        if param is None:
            raise UnknownParameter(f"unknown _sort parameter '{code}' for "
                                   f"{'resource type ' + resource_type if resource_type else 'the types searched'}")
        if param.type not in SORTABLE_TYPES:
            raise NotSupported(f"cannot sort on the {param.type} parameter '{code}'")
        keys.append(SortKey(param, descending))
    return tuple(keys)


def _include(registry: SearchRegistry, name: str, modifier: str, value: str) -> Include:
    if modifier not in ("", "iterate", "recurse"):
        raise BadRequest(f"unknown modifier ':{modifier}' on {name}")
    if value == "*":
        return Include("*", "*", None, iterate=modifier != "")
    parts = value.split(":")
    if len(parts) not in (2, 3) or not all(parts):
        raise BadRequest(f"{name} must have the form Type:parameter[:targetType], got '{value}'")
    source_type, code = parts[0], parts[1]
    target_type = parts[2] if len(parts) == 3 else None
    if not registry.supports(source_type) or (target_type is not None and not registry.supports(target_type)):
        raise BadRequest(f"unknown resource type in {name}={value}")
    if code != "*":
        param = registry.get(source_type, code)
        if param is None or param.type != "reference":
            raise UnknownParameter(f"'{code}' is not a reference parameter of {source_type} (in {name})")
    return Include(source_type, code, target_type, iterate=modifier != "")


def parse_result_params(registry: SearchRegistry, resource_type: str, pairs: Iterable[tuple[str, str]], *,
                        lenient: bool = False, lookup: Lookup | None = None) -> tuple[ResultParams, list[str]]:
    """The result parameters, and the names skipped under lenient handling. `lookup` finds `_sort`
    parameters (by default those of `resource_type`)."""
    find: Lookup = lookup or (lambda code: registry.get(resource_type, code))
    result = ResultParams()
    includes: list[Include] = []
    revincludes: list[Include] = []
    ignored: list[str] = []
    for name, value in pairs:
        base, _, modifier = name.partition(":")
        try:
            if base in ("_include", "_revinclude"):
                (includes if base == "_include" else revincludes).append(_include(registry, base, modifier, value))
                continue
            if modifier:
                raise BadRequest(f"{base} takes no modifier (got '{name}')")
            if base in _CHOICES and value not in _CHOICES[base]:
                raise BadRequest(f"{base} must be one of {', '.join(_CHOICES[base])}, got '{value}'")
            result = _with(result, find, resource_type, base, value)
        except (UnknownParameter, NotSupported):
            if not lenient:
                raise
            ignored.append(name)
    return replace(result, include=tuple(includes), revinclude=tuple(revincludes)), ignored


def _with(result: ResultParams, lookup: Lookup, resource_type: str, base: str, value: str) -> ResultParams:
    if base == "_count":
        return replace(result, count=_count(value))
    if base == "_sort":
        return replace(result, sort=_sort(lookup, resource_type, value))
    if base == "_elements":
        return replace(result, elements=tuple(item.strip() for item in value.split(",") if item.strip()))
    if base == "_pretty":
        return replace(result, pretty=value == "true")
    if base == "_containedType":
        return replace(result, contained_type=value)
    if base == "_summary":
        return replace(result, summary=value)
    if base == "_total":
        return replace(result, total=value)
    if base == "_contained":
        return replace(result, contained=value)
    if base == "_format":
        return replace(result, format=value)
    return replace(result, cursor=value)
