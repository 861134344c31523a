"""The parsed form of a search query: what `parse_query` produces and `compile_query` consumes.

    ParsedQuery(resource_type, criteria=(node AND node ...), result=ResultParams, ignored=(...), types=None)
    node := Predicate(param, modifier, values: OR of typed values)
          | Chain(param, targets=((type, node), ...))       subject:Patient.name=x
          | Has(resource_type, reference, inner=node)        _has:Observation:patient:code=x
          | Compartment(type, id, members)                   GET Patient/123/Observation

A system search (`GET [base]?_type=...`) has `types` set: the resource types searched (empty: all),
and its predicates carry parameters with `resource_type == ""` (common to every type searched).

Typed values (one per comma-separated alternative) carry what their parameter type needs, already
validated: date ranges in epoch microseconds, numbers with their precision range, token
system/code, reference type/id/url. https://hl7.org/fhir/R4/search.html
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from fhir_server.search.registry import SearchParam

__all__ = [
    "DateValue", "NumberValue", "QuantityValue", "TokenValue", "ReferenceValue", "CompositeValue", "Value",
    "Predicate", "Chain", "Has", "Compartment", "Node", "SortKey", "Include", "ResultParams", "ParsedQuery", "PREFIXES",
]

PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")


@dataclass(frozen=True, slots=True)
class DateValue:
    prefix: str
    low: int
    high: int


@dataclass(frozen=True, slots=True)
class NumberValue:
    prefix: str
    value: Decimal
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class QuantityValue:
    prefix: str
    value: Decimal
    low: float
    high: float
    system: str | None
    code: str | None


@dataclass(frozen=True, slots=True)
class TokenValue:
    """`code`, `system|code`, `|code` (no system: `system` is "") or `system|` (`code` None)."""

    system: str | None
    code: str | None


@dataclass(frozen=True, slots=True)
class ReferenceValue:
    """`Type/id`, `id` (`target_type` None), `Type/id/_history/v`, or an absolute / canonical `url`."""

    target_type: str | None = None
    target_id: str | None = None
    version: str | None = None
    url: str | None = None


# str for string and uri parameters (and _id); bool for :missing
Simple = DateValue | NumberValue | QuantityValue | TokenValue | ReferenceValue | str


@dataclass(frozen=True, slots=True)
class CompositeValue:
    """`a$b`: one value per component, each with its component's parameter type, all met by one element."""

    parts: tuple[tuple[str, Simple], ...]


Value = Simple | CompositeValue | bool


@dataclass(frozen=True, slots=True)
class Predicate:
    """One `name[:modifier]=v1,v2` on one parameter: true when any value matches."""

    param: SearchParam
    modifier: str | None
    values: tuple[Value, ...]


@dataclass(frozen=True, slots=True)
class Chain:
    """`ref[:Type].rest=...`: the reference points to a resource of one of the types matching `rest`.

    `many`: whether the chain leads to many reference rows, when the search service has counted
    them (None: not known); the SQL compiler plans few rows and many differently."""

    param: SearchParam
    targets: tuple[tuple[str, Node], ...]
    many: bool | None = None


@dataclass(frozen=True, slots=True)
class Has:
    """`_has:Type:ref:rest=...`: some `Type` resource refers here through `ref` and matches `rest`.

    `many`: whether many `Type` resources match `rest`, when the search service has counted them
    (None: not known); the SQL compiler plans few and many differently."""

    resource_type: str
    reference: SearchParam
    inner: Node
    many: bool | None = None


@dataclass(frozen=True, slots=True)
class Compartment:
    """The compartment `compartment_type/compartment_id`: per member type, the reference parameters
    that make a resource a member (https://hl7.org/fhir/R4/compartmentdefinition.html)."""

    compartment_type: str
    compartment_id: str
    members: tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True, slots=True)
class AccessLimit:
    """What the caller's token lets a search see: per resource type, alternatives of criteria, a
    resource being visible when it meets every node of one alternative of its type (an empty
    alternative: every resource of the type). Types not listed are not visible at all."""

    per_type: tuple[tuple[str, tuple[tuple[Node, ...], ...]], ...]


Node = Predicate | Chain | Has | Compartment | AccessLimit


@dataclass(frozen=True, slots=True)
class SortKey:
    """One `_sort` key: a parameter (`_id`, `_lastUpdated` included) and its direction."""

    param: SearchParam
    descending: bool = False


@dataclass(frozen=True, slots=True)
class Include:
    """`_include` / `_revinclude` = source type : parameter code (or `*`) [: target type]."""

    source_type: str
    param: str
    target_type: str | None = None
    iterate: bool = False


@dataclass(frozen=True, slots=True)
class ResultParams:
    count: int | None = None
    sort: tuple[SortKey, ...] = ()
    include: tuple[Include, ...] = ()
    revinclude: tuple[Include, ...] = ()
    summary: str | None = None
    elements: tuple[str, ...] = ()
    total: str | None = None
    contained: str | None = None
    contained_type: str | None = None
    format: str | None = None
    pretty: bool | None = None
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    resource_type: str
    criteria: tuple[Node, ...] = ()
    result: ResultParams = field(default_factory=ResultParams)
    # parameters left out under lenient handling (unknown or unsupported), as the client wrote them
    ignored: tuple[str, ...] = ()
    # a system search: the types searched (() = every type); None for a search of `resource_type`
    types: tuple[str, ...] | None = None
