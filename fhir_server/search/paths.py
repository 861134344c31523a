"""The fast path: plain FHIRPath navigation compiled into a walk over the resource dict.

Most search expressions are dotted paths (`Patient.name.given`), sometimes with a choice type
(`Observation.value` → `valueQuantity`, `valueString`...), a type cast (`(Observation.value as
Quantity)`, `.as(T)`, `.ofType(T)`), a reference-type test (`.where(resolve() is Patient)`) or an
equality filter (`.where(system='email')`). `compile_path` turns such an expression into a function
returning `(value, type name)` pairs, and answers None for anything else (fhirpathpy handles that).
Each step knows at compile time which JSON keys to read and which type the values have, so a
resource is walked without building any intermediate nodes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fhir_server.search.model import (
    choice_suffix,
    choice_types,
    element_type,
    is_subtype,
)
from fhir_server.search.references import reference_type

__all__ = ["Typed", "PathFunction", "compile_path", "compile_relative", "leading_keys", "selection", "split_segments"]

Typed = tuple[Any, str]
PathFunction = Callable[[dict[str, Any]], list[Typed]]
_Op = Callable[[list[Typed]], list[Typed]]

_FIELD = re.compile(r"[A-Za-z_]\w*")
_RESOLVE_IS = re.compile(r"where\(\s*resolve\(\)\s+is\s+(\w+)\s*\)")
_EQUALS = re.compile(r"where\(\s*(\w+)\s*=\s*'([^'\\]*)'\s*\)")
_CAST_CALL = re.compile(r"(?:as|ofType)\(\s*(\w+)\s*\)")
_CAST_OPERATOR = re.compile(r"(?P<inner>.+)\s+as\s+(?P<type>\w+)")


def split_segments(path: str) -> list[str] | None:
    """Split on top-level dots; None when parentheses or quotes are unbalanced."""
    segments: list[str] = []
    depth, quote, start = 0, "", 0
    for index, char in enumerate(path):
        if quote:
            if char == quote:
                quote = ""
        elif char == "'":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                return None
        elif char == "." and depth == 0:
            segments.append(path[start:index].strip())
            start = index + 1
    if depth or quote:
        return None
    segments.append(path[start:].strip())
    return segments


def _closing_parenthesis(text: str) -> int | None:
    """The index of the `)` closing the `(` that `text` starts with."""
    depth = 0
    for index, char in enumerate(text):
        depth += char == "("
        depth -= char == ")"
        if depth == 0:
            return index
    return None


def _segments(expression: str) -> list[str] | None:
    """The navigation steps of a fast-path expression, casts written as `as(T)`; None if not one."""
    text = expression.strip()
    if not text.startswith("("):
        return split_segments(text)
    index = _closing_parenthesis(text)
    if index is None:
        return None
    match = _CAST_OPERATOR.fullmatch(text[1:index].strip())
    rest = text[index + 1:].strip()
    if not match or (rest and not rest.startswith(".")):
        return None
    inner = split_segments(match["inner"])
    tail = split_segments(rest[1:]) if rest else []
    if inner is None or tail is None:
        return None
    return [*inner, f"as({match['type']})", *tail]


def _field_op(key_table: dict[str, tuple[tuple[str, str], ...]]) -> _Op:
    def step(nodes: list[Typed]) -> list[Typed]:
        found: list[Typed] = []
        for value, kind in nodes:
            if not isinstance(value, dict):
                continue
            for key, child_type in key_table.get(kind, ()):
                child = value.get(key)
                if child is None:
                    continue
                if isinstance(child, list):
                    found.extend((item, child_type) for item in child if item is not None)
                else:
                    found.append((child, child_type))
        return found

    return step


def _cast_op(type_name: str) -> _Op:
    return lambda nodes: [node for node in nodes if is_subtype(node[1], type_name)]


def _resolve_is_op(type_name: str) -> _Op:
    return lambda nodes: [
        node for node in nodes if isinstance(node[0], dict) and reference_type(node[0]) == type_name
    ]


def _equals_op(key: str, literal: str) -> _Op:
    return lambda nodes: [node for node in nodes if isinstance(node[0], dict) and node[0].get(key) == literal]


def _child_table(owners: set[str], name: str) -> dict[str, tuple[tuple[str, str], ...]] | None:
    table: dict[str, tuple[tuple[str, str], ...]] = {}
    for owner in owners:
        single = element_type(owner, name)
        if single is not None:
            table[owner] = ((name, single),)
            continue
        choices = choice_types(owner, name)
        if choices:
            table[owner] = tuple((name + choice_suffix(kind), kind) for kind in choices)
    return table or None


def compile_path(resource_type: str, expression: str) -> PathFunction | None:
    """A walker for a plain path expression rooted at `resource_type`; None when it is not one."""
    segments = _segments(expression)
    if not segments or segments[0] != resource_type:
        return None
    return _compile_steps(resource_type, segments[1:])


def compile_relative(owner: str, expression: str) -> PathFunction | None:
    """A walker for a path relative to an element of type `owner` (a type name or backbone path),
    as composite components are written (`value.as(Quantity)` under `Observation.component`)."""
    segments = _segments(expression)
    if not segments:
        return None
    return _compile_steps(owner, segments)


def leading_keys(owner: str, expression: str, *, rooted: bool = True) -> frozenset[str] | None:
    """The JSON keys of an `owner` element that the fast path's walk for `expression` reads first
    (rooted: `Owner.a.b`, else relative: `a.b`): it selects nothing from an element with none of them.
    None when that is not known: not a fast-path expression, or one that does not start with a field."""
    segments = _segments(expression)
    if not segments:
        return None
    if rooted:
        if segments[0] != owner:
            return None
        segments = segments[1:]
    planned = _walk_plan(owner, segments)
    if planned is None or not planned[0] or not isinstance(planned[0][0], dict):
        return None
    return frozenset(key for pairs in planned[0][0].values() for key, _ in pairs)


def selection(resource_type: str, expression: str) -> tuple[tuple[Any, ...], frozenset[str]] | None:
    """What a fast-path expression rooted at `resource_type` selects, comparable across spellings
    (`(Observation.value as Quantity)` and `Observation.value.as(Quantity)` give the same): its steps,
    a field as the (owner, key, type) it reads once the casts after it are applied; and the types of
    the values it gives. None when it is not a fast-path expression."""
    segments = _segments(expression)
    if not segments or segments[0] != resource_type:
        return None
    planned = _walk_plan(resource_type, segments[1:])
    if planned is None:
        return None
    steps, owners = planned
    return tuple(frozenset((owner, key, kind) for owner, pairs in step.items() for key, kind in pairs)
                 if isinstance(step, dict) else step for step in steps), frozenset(owners)


# a step of a fast-path walk: a field read, as the (key, type) pairs it reads per owner type, or a
# test of the values: ("as", type), ("resolve", type), ("equals", key, literal)
_Table = dict[str, tuple[tuple[str, str], ...]]
_PlannedStep = _Table | tuple[str, ...]


def _walk_plan(owner: str, segments: list[str]) -> tuple[list[_PlannedStep], set[str]] | None:
    """The steps of a walk from an `owner` element and the types of the values it gives; None when
    a segment is not a fast-path one or selects nothing."""
    owners = {owner}
    steps: list[_PlannedStep] = []
    for segment in segments:
        if _FIELD.fullmatch(segment):
            table = _child_table(owners, segment)
            if table is None:
                return None
            steps.append(table)
        elif (match := _CAST_CALL.fullmatch(segment)) and steps and isinstance(steps[-1], dict):
            # a cast of a field read: read only the keys of the cast's types (`value.as(Quantity)`:
            # valueQuantity, not each of the eleven `value[x]` keys and then a filter)
            table = {kind: kept for kind, pairs in steps[-1].items()
                     if (kept := tuple(pair for pair in pairs if is_subtype(pair[1], match[1])))}
            if not table:
                return None
            steps[-1] = table
        elif match:
            owners = {kind for kind in owners if is_subtype(kind, match[1])}
            if not owners:
                return None
            steps.append(("as", match[1]))
            continue
        elif match := _RESOLVE_IS.fullmatch(segment):
            steps.append(("resolve", match[1]))
            continue
        elif match := _EQUALS.fullmatch(segment):
            steps.append(("equals", match[1], match[2]))
            continue
        else:
            return None
        owners = {kind for pairs in steps[-1].values() for _, kind in pairs}  # type: ignore[union-attr]
    return steps, owners


def _op(step: _PlannedStep) -> _Op:
    if isinstance(step, dict):
        return _field_op(step)
    if step[0] == "as":
        return _cast_op(step[1])
    if step[0] == "resolve":
        return _resolve_is_op(step[1])
    return _equals_op(step[1], step[2])


def _compile_steps(resource_type: str, steps: list[str]) -> PathFunction | None:
    planned = _walk_plan(resource_type, steps)
    if planned is None:
        return None
    ops = [_op(step) for step in planned[0]]

    def walk(resource: dict[str, Any]) -> list[Typed]:
        nodes: list[Typed] = [(resource, resource_type)]
        for op in ops:
            nodes = op(nodes)
            if not nodes:
                break
        return nodes

    return walk
