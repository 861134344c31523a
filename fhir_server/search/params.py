"""Parsing a search query (name/value pairs as in a URL) into a `ParsedQuery` tree. Pure: no SQL.

Names are `code[:modifier]`, chains `ref[:Type].code...` (any depth) and reverse chains
`_has:Type:ref:rest` (nested); repeating a name ANDs, commas inside a value OR
(https://hl7.org/fhir/R4/search.html). Result parameters (`_count`, `_sort`, `_include`...) are
kept aside in `ResultParams`. An unknown or unsupported parameter raises BadRequest naming it, or
is listed in `ParsedQuery.ignored` when the caller passes `lenient=True` (`Prefer: handling=lenient`);
malformed values always raise.
"""

from __future__ import annotations

from collections.abc import Iterable

from fhir_server.errors import BadRequest
from fhir_server.search.param_values import parse_values, split_escaped
from fhir_server.search.query import Chain, Has, Node, ParsedQuery, Predicate
from fhir_server.search.refusals import NotSupported, UnknownParameter
from fhir_server.search.registry import SearchParam, SearchRegistry
from fhir_server.search.result_params import RESULT_PARAMS, parse_result_params

__all__ = ["parse_query", "MODIFIERS"]

# the modifiers each parameter type accepts (reference also takes a resource type)
MODIFIERS: dict[str, frozenset[str]] = {
    "string": frozenset({"missing", "exact", "contains"}),
    "token": frozenset({"missing", "text", "not", "above", "below", "in", "not-in", "of-type"}),
    "reference": frozenset({"missing", "identifier", "above", "below"}),
    "date": frozenset({"missing"}),
    "number": frozenset({"missing"}),
    "quantity": frozenset({"missing"}),
    "uri": frozenset({"missing", "above", "below"}),
    "composite": frozenset({"missing"}),
    "special": frozenset({"missing"}),
}
# accepted by the spec but needing a terminology service or hierarchy this search does not have
_UNSUPPORTED_MODIFIERS = {
    "token": frozenset({"above", "below", "in", "not-in"}),
    "reference": frozenset({"above", "below"}),
}
_UNSUPPORTED_NAMES = frozenset({"_text", "_content", "_query", "_list", "_filter", "_type"})


def _param(registry: SearchRegistry, resource_type: str, code: str, name: str) -> SearchParam:
    param = registry.get(resource_type, code)
    if param is None:
        raise UnknownParameter(f"unknown search parameter '{name}' for resource type {resource_type}")
    return param


def _check_modifier(param: SearchParam, modifier: str | None, name: str, registry: SearchRegistry) -> None:
    if modifier is None:
        return
    if param.type == "reference" and modifier in registry.resource_types:
        if param.targets and modifier not in param.targets:
            raise BadRequest(f"'{param.code}' cannot refer to {modifier} (in '{name}')")
        return
    if modifier not in MODIFIERS.get(param.type, frozenset()):
        raise BadRequest(f"unknown modifier ':{modifier}' for {param.type} parameter '{param.code}' (in '{name}')")
    if modifier == "of-type" and param.code != "identifier":
        raise BadRequest(f"':of-type' applies to identifier parameters only (in '{name}')")
    if param.on_resource_table and modifier not in ("missing", "not"):
        raise NotSupported(f"the modifier ':{modifier}' is not supported on '{param.code}' (in '{name}')")
    if modifier in _UNSUPPORTED_MODIFIERS.get(param.type, frozenset()):
        raise NotSupported(f"the modifier ':{modifier}' is not supported (in '{name}')")


def _has_targets(registry: SearchRegistry, candidates: list[str], tail: str, name: str) -> list[str]:
    """The candidate types a chained `_has:Type:ref:...` can apply to: those `Type.ref` refers to."""
    parts = tail.split(":", 3)
    reference = registry.get(parts[1], parts[2]) if len(parts) == 4 else None
    if reference is None or reference.type != "reference":
        raise BadRequest(f"'{name}' must continue with _has:Type:reference:parameter")
    targets = [target for target in candidates if not reference.targets or target in reference.targets]
    if not targets:
        raise BadRequest(f"{parts[1]}.{parts[2]} refers to none of the chained types (in '{name}')")
    return targets


def _chain_targets(registry: SearchRegistry, param: SearchParam, modifier: str | None,
                   tail: str, name: str) -> list[str]:
    if modifier is not None:
        candidates = [modifier]
    elif param.targets:
        candidates = list(param.targets)
    else:
        candidates = sorted(registry.resource_types)
    next_code = tail.partition(".")[0].partition(":")[0]
    if next_code == "_has":
        return _has_targets(registry, candidates, tail, name)
    targets = [target for target in candidates if registry.get(target, next_code) is not None]
    if not targets:
        raise UnknownParameter(f"none of the types '{param.code}' refers to has a parameter '{next_code}' "
                               f"(in '{name}')")
    return targets


def _parse_has(registry: SearchRegistry, resource_type: str, name: str, rest: str, value: str) -> Has:
    parts = rest.split(":", 2)
    if len(parts) != 3 or not all(parts):
        raise BadRequest(f"'{name}' must have the form _has:Type:reference:parameter")
    source_type, reference_code, inner = parts
    if not registry.supports(source_type):
        raise BadRequest(f"unknown resource type '{source_type}' in '{name}'")
    reference = _param(registry, source_type, reference_code, name)
    if reference.type != "reference":
        raise BadRequest(f"'{reference_code}' is not a reference parameter of {source_type} (in '{name}')")
    if reference.targets and resource_type not in reference.targets:
        raise BadRequest(f"{source_type}.{reference_code} cannot refer to {resource_type} (in '{name}')")
    return Has(source_type, reference, _parse_name(registry, source_type, inner, value, name))


def _parse_name(registry: SearchRegistry, resource_type: str, text: str, value: str, name: str) -> Node:
    """The node for `text=value` on `resource_type`; `name` is the whole name, for messages."""
    if text.startswith("_has:"):
        return _parse_has(registry, resource_type, name, text[len("_has:"):], value)
    head, dot, tail = text.partition(".")
    code, _, modifier = head.partition(":")
    if code in _UNSUPPORTED_NAMES:
        raise NotSupported(f"the search parameter '{code}' is not supported (in '{name}')")
    param = _param(registry, resource_type, code, name)
    if param.expression is None and not param.on_resource_table:
        raise NotSupported(f"the search parameter '{code}' has no expression to search on (in '{name}')")
    _check_modifier(param, modifier or None, name, registry)
    if dot:
        if param.type != "reference" or modifier in MODIFIERS["reference"]:
            raise BadRequest(f"only reference parameters can be chained (in '{name}')")
        targets = _chain_targets(registry, param, modifier or None, tail, name)
        return Chain(param, tuple((target, _parse_name(registry, target, tail, value, name)) for target in targets))
    if param.type == "composite":
        components = split_escaped(value, "$")
        raise NotSupported(f"composite search parameter '{code}' ({len(components)} components) is not yet "
                           f"supported (in '{name}')")
    if param.type == "special":
        raise NotSupported(f"the special search parameter '{code}' is not supported (in '{name}')")
    return Predicate(param, modifier or None, parse_values(name, param.type, modifier or None, value))


def _has_values(node: Node) -> bool:
    """False when the leaf values were all empty (`name=,`): the parameter is then ignored."""
    if isinstance(node, Predicate):
        return bool(node.values)
    if isinstance(node, Chain):
        return all(_has_values(inner) for _, inner in node.targets)
    return _has_values(node.inner)


def parse_query(registry: SearchRegistry, resource_type: str, pairs: Iterable[tuple[str, str]], *,
                lenient: bool = False) -> ParsedQuery:
    """Parse URL query pairs (already percent-decoded) for a search on `resource_type`."""
    if not registry.supports(resource_type):
        raise BadRequest(f"unknown resource type '{resource_type}'")
    criteria: list[Node] = []
    result_pairs: list[tuple[str, str]] = []
    ignored: list[str] = []
    for name, value in pairs:
        if name.partition(":")[0] in RESULT_PARAMS:
            result_pairs.append((name, value))
            continue
        if value == "":
            continue  # an empty parameter is ignored
        try:
            node = _parse_name(registry, resource_type, name, value, name)
        except (UnknownParameter, NotSupported):
            if not lenient:
                raise
            ignored.append(name)
            continue
        if _has_values(node):
            criteria.append(node)
    result, result_ignored = parse_result_params(registry, resource_type, result_pairs, lenient=lenient)
    return ParsedQuery(resource_type, tuple(criteria), result, tuple(ignored + result_ignored))
