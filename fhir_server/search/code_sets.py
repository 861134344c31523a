"""The token modifiers that need a terminology service: `:in`, `:not-in`, `:above`, `:below`
(https://hl7.org/fhir/R4/search.html#token).

The parser keeps them as written (`code:in=http://example.org/vs`, `code:below=system|code`);
`resolve_codes` then asks a `CodeSets` port (the service layer's terminology) for the codes they
stand for and rewrites each into a plain set of (system, code) values:

    code:in=vs          Predicate(code, "in", (TokenValue(s, c), ...))        the value set's expansion
    code:not-in=vs      Predicate(code, "not-in", (TokenValue(s, c), ...))
    code:below=s|c      Predicate(code, "in", ...)   c and every code c subsumes in s
    code:above=s|c      Predicate(code, "in", ...)   c and every code that subsumes c in s

so the SQL side (`sql.tokens`) only ever sees a list of codes to test with `IN`. A value set that is
unknown, cannot be expanded or has more than `MAX_CODES` codes is a 400 naming the parameter.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from typing import Protocol

from fhir_server.errors import BadRequest, FhirError
from fhir_server.search.query import Chain, Has, Node, ParsedQuery, Predicate, TokenValue

__all__ = ["CodeSets", "resolve_codes", "resolved", "MAX_CODES", "TERMINOLOGY_MODIFIERS"]

TERMINOLOGY_MODIFIERS = frozenset({"in", "not-in", "above", "below"})
# past this many codes the IN list stops being a sensible query (and nears SQL parameter limits)
MAX_CODES = 5_000


class CodeSets(Protocol):
    """What search asks of the terminology service. Both raise `FhirError` (unknown value set or
    code system, an expansion too costly...), which search reports as a 400."""

    def value_set_codes(self, reference: str) -> Collection[tuple[str, str]]:
        """The (system, code) pairs of a value set named by canonical URL (`url[|version]`) or by a
        reference to a stored ValueSet (`ValueSet/123`, or the same as an absolute URL)."""
        ...

    def related_codes(self, system: str, code: str, *, above: bool) -> Collection[str]:
        """The codes of `system` that subsume `code` (`above`) or that `code` subsumes (not `above`),
        transitively, not `code` itself; empty for a code the code system does not hold."""
        ...


def _value_codes(codes: CodeSets, modifier: str | None, value: object) -> set[tuple[str, str]]:
    if modifier in ("in", "not-in"):
        return set(codes.value_set_codes(str(value)))
    if isinstance(value, TokenValue) and value.system and value.code:  # the parser demands both
        related = codes.related_codes(value.system, value.code, above=modifier == "above")
        return {(value.system, value.code), *((value.system, code) for code in related)}
    return set()


def _codes(codes: CodeSets, predicate: Predicate) -> set[tuple[str, str]]:
    name = f"{predicate.param.code}:{predicate.modifier}"
    found: set[tuple[str, str]] = set()
    for value in predicate.values:
        try:
            found |= _value_codes(codes, predicate.modifier, value)
        except FhirError as exc:  # unknown (404), not expandable (422)...: a bad search parameter here
            raise BadRequest(f"'{name}': {exc.diagnostics}", code=exc.code) from exc
        if len(found) > MAX_CODES:
            raise BadRequest(f"'{name}' stands for more than {MAX_CODES} codes, the limit of this server's "
                             "search; use a narrower value set or concept", code="too-costly")
    return found


def resolved(predicate: Predicate) -> bool:
    """Whether an `:in` / `:not-in` predicate already holds codes rather than value set references."""
    return predicate.modifier in ("in", "not-in") and all(isinstance(v, TokenValue) for v in predicate.values)


def _resolved(node: Node, codes: CodeSets) -> Node:
    if isinstance(node, Predicate):
        if node.param.type != "token" or node.modifier not in TERMINOLOGY_MODIFIERS or resolved(node):
            return node
        values = tuple(TokenValue(system, code) for system, code in sorted(_codes(codes, node)))
        return Predicate(node.param, "not-in" if node.modifier == "not-in" else "in", values)
    if isinstance(node, Chain):
        return replace(node, targets=tuple((target, _resolved(inner, codes)) for target, inner in node.targets))
    if isinstance(node, Has):
        return replace(node, inner=_resolved(node.inner, codes))
    return node


def resolve_codes(query: ParsedQuery, codes: CodeSets | None) -> ParsedQuery:
    """The query with every `:in`, `:not-in`, `:above` and `:below` token predicate (chained and
    inside `_has` too) turned into the codes it stands for. Without a port the query is returned as
    it is, and compiling such a predicate refuses it."""
    if codes is None:
        return query
    return replace(query, criteria=tuple(_resolved(node, codes) for node in query.criteria))
