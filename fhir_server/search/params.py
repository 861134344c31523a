"""Parsing a search query (name/value pairs as in a URL) into a `ParsedQuery` tree. Pure: no SQL.

Names are `code[:modifier]`, chains `ref[:Type].code...` (any depth) and reverse chains
`_has:Type:ref:rest` (nested); repeating a name ANDs, commas inside a value OR
(https://hl7.org/fhir/R4/search.html). Result parameters (`_count`, `_sort`, `_include`...) are
kept aside in `ResultParams`. An unknown or unsupported parameter raises BadRequest naming it, or
is listed in `ParsedQuery.ignored` when the caller passes `lenient=True` (`Prefer: handling=lenient`);
malformed values always raise.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from fhir_server.errors import BadRequest
from fhir_server.search.composites import component_code
from fhir_server.search.param_values import parse_values, split_escaped
from fhir_server.search.query import Chain, CompositeValue, Has, Node, ParsedQuery, Predicate, Simple
from fhir_server.search.refusals import NotSupported, UnknownParameter
from fhir_server.search.registry import SearchParam, SearchRegistry
from fhir_server.search.result_params import RESULT_PARAMS, parse_result_params

__all__ = ["parse_query", "parse_system_query", "modifiers_for", "MODIFIERS", "TEXT_SEARCH"]

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
# accepted by the spec but needing a hierarchy this search does not have (the token modifiers that
# need terminology are resolved after parsing: see `code_sets`)
_UNSUPPORTED_MODIFIERS = {
    "reference": frozenset({"above", "below"}),
}
_UNSUPPORTED_NAMES = frozenset({"_query", "_filter"})
# parameters answered by dedicated code rather than by an expression's index rows
TEXT_SEARCH = frozenset({"_text", "_content"})
LIST_URL = "http://hl7.org/fhir/SearchParameter/Resource-list"


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


def modifiers_for(param: SearchParam) -> tuple[str, ...]:
    """The modifiers a search on `param` accepts (as `_check_modifier` decides), for the
    CapabilityStatement; a reference parameter also takes its target types (`:[type]`)."""
    if param.code in TEXT_SEARCH or param.code == "_list":
        return ()
    accepted = MODIFIERS.get(param.type, frozenset()) - _UNSUPPORTED_MODIFIERS.get(param.type, frozenset())
    if param.on_resource_table:
        accepted &= {"missing", "not"}
    if param.code != "identifier":
        accepted -= {"of-type"}
    return tuple(sorted(accepted))


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
    if code == "_type":
        raise NotSupported(f"_type applies to a search of all types (GET [base]?_type=...), not to {resource_type}")
    special = _special(registry, resource_type, code, name)
    if special is not None and not dot:
        return _leaf(registry, special, modifier or None, value, name)
    param = _param(registry, resource_type, code, name)
    if param.expression is None and not param.on_resource_table:
        raise NotSupported(f"the search parameter '{code}' has no expression to search on (in '{name}')")
    _check_modifier(param, modifier or None, name, registry)
    if dot:
        if param.type != "reference" or modifier in MODIFIERS["reference"]:
            raise BadRequest(f"only reference parameters can be chained (in '{name}')")
        targets = _chain_targets(registry, param, modifier or None, tail, name)
        return Chain(param, tuple((target, _parse_name(registry, target, tail, value, name)) for target in targets))
    return _leaf(registry, param, modifier or None, value, name)


def _list_param(resource_type: str) -> SearchParam:
    return SearchParam(code="_list", type="special", resource_type=resource_type, expression=None, url=LIST_URL)


def _special(registry: SearchRegistry, resource_type: str, code: str, name: str) -> SearchParam | None:
    """`_text`, `_content` and `_list`, which have no expression; None for any other name."""
    if code == "_list":
        return _list_param(resource_type)
    if code in TEXT_SEARCH:
        return registry.get(resource_type, code) if resource_type else SearchParam(
            code=code, type="string", resource_type="", expression=None, url="")
    return None


def _composite(registry: SearchRegistry, param: SearchParam, value: str, name: str) -> tuple[CompositeValue, ...]:
    kinds = registry.component_types(param)
    if kinds is None:
        raise NotSupported(f"the components of composite parameter '{param.code}' are not known (in '{name}')")
    values: list[CompositeValue] = []
    for alternative in split_escaped(value, ","):
        if not alternative:
            continue
        texts = split_escaped(alternative, "$")
        if len(texts) != len(kinds):
            raise BadRequest(f"'{name}' takes {len(kinds)} components separated by '$' "
                             f"({' $ '.join(kinds)}), got '{alternative}'")
        parts: list[tuple[str, Simple]] = []
        for kind, text in zip(kinds, texts, strict=True):
            parsed = parse_values(name, kind, None, text)
            if not parsed or isinstance(parsed[0], bool | CompositeValue):
                raise BadRequest(f"every component of '{name}' needs a value, got '{alternative}'")
            parts.append((kind, parsed[0]))
        values.append(CompositeValue(tuple(parts)))
    return tuple(values)


def _first_component(param: SearchParam, kind: str) -> SearchParam:
    """What `:missing` asks of a composite: the rows of its first component, as a plain parameter of
    `kind`; the composite itself when made of plain parameters."""
    if param.component_params:
        return param
    return replace(param, code=component_code(param.code, 0), type=kind,
                   union_of=tuple(_first_component(source, kind) for source in param.union_of))


def _leaf(registry: SearchRegistry, param: SearchParam, modifier: str | None, value: str, name: str) -> Predicate:
    """The predicate of a parameter that is not chained (the parameter and modifier already checked)."""
    if param.code == "_list":
        if modifier is not None:
            raise BadRequest(f"_list takes no modifier (in '{name}')")
        ids = tuple(part for part in split_escaped(value, ",") if part)
        if any(item.startswith("$") for item in ids):
            raise NotSupported(f"functional lists ({', '.join(i for i in ids if i.startswith('$'))}) are not "
                               f"supported by _list (in '{name}')")
        return Predicate(param, None, ids)
    if param.code in TEXT_SEARCH:
        if modifier is not None:
            raise BadRequest(f"{param.code} takes no modifier (in '{name}')")
        return Predicate(param, None, parse_values(name, "string", None, value))
    if param.type == "composite":
        if modifier != "missing":
            return Predicate(param, modifier, _composite(registry, param, value, name))
        kinds = registry.component_types(param)
        if kinds is None:
            raise NotSupported(f"the components of composite parameter '{param.code}' are not known (in '{name}')")
        # a composite is present when its first component is: test those rows like a plain parameter's
        # (a union's, those of the composites it is the union of); one made of plain parameters when
        # each of them has rows (`sql.composites`)
        first = _first_component(param, kinds[0])
        return Predicate(first, modifier, parse_values(name, kinds[0], modifier, value))
    if param.type == "special":
        if param.code == "near":
            raise NotSupported(f"'near' (distance from a position) is not supported: Location positions are not "
                               f"indexed for geographic search (in '{name}')")
        raise NotSupported(f"the special search parameter '{param.code}' is not supported (in '{name}')")
    return Predicate(param, modifier, parse_values(name, param.type, modifier, value))


def _has_values(node: Node) -> bool:
    """False when the leaf values were all empty (`name=,`): the parameter is then ignored."""
    if isinstance(node, Predicate):
        return bool(node.values)
    if isinstance(node, Chain):
        return all(_has_values(inner) for _, inner in node.targets)
    if isinstance(node, Has):
        return _has_values(node.inner)
    return True


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


def common_param(registry: SearchRegistry, types: Sequence[str], code: str, name: str) -> SearchParam:
    """The parameter `code` as a system search sees it: defined alike (one url) on every type searched
    that has it, with `resource_type` "" (its index rows are matched whatever their type)."""
    special = _special(registry, "", code, name)
    if special is not None:
        return special
    found = [param for res_type in (types or sorted(registry.resource_types))
             if (param := registry.get(res_type, code)) is not None]
    if not found:
        raise UnknownParameter(f"unknown search parameter '{name}' for a search of "
                               f"{', '.join(types) if types else 'all resource types'}")
    if len({param.url for param in found}) > 1:
        raise NotSupported(f"'{code}' means different things for the types searched; search one type at a time "
                           f"(in '{name}')")
    if found[0].expression is None and not found[0].on_resource_table:
        raise NotSupported(f"the search parameter '{code}' has no expression to search on (in '{name}')")
    return replace(found[0], resource_type="")


def _system_node(registry: SearchRegistry, types: Sequence[str], name: str, value: str) -> Node:
    head, dot, _ = name.partition(".")
    code, _, modifier = head.partition(":")
    if dot or code == "_has":
        raise NotSupported(f"chains and _has need one resource type: search [type]?... instead (in '{name}')")
    if code in _UNSUPPORTED_NAMES:
        raise NotSupported(f"the search parameter '{code}' is not supported (in '{name}')")
    param = common_param(registry, types, code, name)
    if param.code not in TEXT_SEARCH and param.code != "_list":
        _check_modifier(param, modifier or None, name, registry)
    return _leaf(registry, param, modifier or None, value, name)


def parse_system_query(registry: SearchRegistry, types: Sequence[str], pairs: Iterable[tuple[str, str]], *,
                       lenient: bool = False) -> ParsedQuery:
    """Parse a search across resource types (`GET [base]?_type=A,B&...`; `types` empty: every type).

    Only parameters shared by the types searched may be used (`_id`, `_lastUpdated`, `_tag`,
    `_profile`, `_security`, `_source`, `_text`, `_content`, `_list`, or one defined alike on each).
    """
    unknown = [res_type for res_type in types if not registry.supports(res_type)]
    if unknown:
        raise BadRequest(f"unknown resource type(s) in _type: {', '.join(unknown)}")
    criteria: list[Node] = []
    result_pairs: list[tuple[str, str]] = []
    ignored: list[str] = []
    for name, value in pairs:
        if name.partition(":")[0] in RESULT_PARAMS:
            result_pairs.append((name, value))
            continue
        if value == "":
            continue
        try:
            node = _system_node(registry, types, name, value)
        except (UnknownParameter, NotSupported):
            if not lenient:
                raise
            ignored.append(name)
            continue
        if _has_values(node):
            criteria.append(node)

    def lookup(code: str) -> SearchParam | None:
        try:
            return common_param(registry, types, code, code)
        except BadRequest:
            return None

    result, result_ignored = parse_result_params(registry, "", result_pairs, lenient=lenient, lookup=lookup)
    return ParsedQuery("", tuple(criteria), result, tuple(ignored + result_ignored), types=tuple(types))

