"""Composite predicates: all components met by one element (https://hl7.org/fhir/R4/search.html#composite).

    resources.pk IN (SELECT c0.resource_pk FROM search_token c0
                     JOIN search_quantity c1 ON c1.resource_pk = c0.resource_pk AND c1.element = c0.element
                     WHERE c0.param = 'code-value-quantity$0' AND <token test on c0>
                       AND c1.param = 'code-value-quantity$1' AND <quantity test on c1>)

The rows are written by `fhir_server.search.composites`; each component is tested with the same
condition as a plain parameter of its type. A composite of the resource itself made of plain
parameters (`SearchParam.component_params`: code-value-quantity of code and value-quantity) has no
rows of its own: its components are those parameters' rows of one resource.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, FromClause, Select, and_, or_, select
from sqlalchemy.sql.selectable import NamedFromClause

from fhir_server.db.tables import SEARCH_INDEX_TABLES
from fhir_server.search.composites import component_code
from fhir_server.search.query import (
    CompositeValue,
    DateValue,
    NumberValue,
    Predicate,
    QuantityValue,
    ReferenceValue,
    Simple,
    TokenValue,
)
from fhir_server.search.registry import SearchParam
from fhir_server.search.sql.dates import date_condition
from fhir_server.search.sql.index import bounded, has_rows
from fhir_server.search.sql.numbers import number_condition
from fhir_server.search.sql.quantities import quantity_condition
from fhir_server.search.sql.references import reference_condition
from fhir_server.search.sql.strings import string_condition
from fhir_server.search.sql.tokens import token_condition
from fhir_server.search.sql.uris import uri_condition

__all__ = ["build"]


@lru_cache(maxsize=64)
def _alias(kind: str, index: int) -> NamedFromClause:
    """The alias of component `index`'s table (built once: each composite subquery is uncorrelated)."""
    return SEARCH_INDEX_TABLES[kind].alias(f"c{index}")


def component_condition(kind: str, value: Simple, table: NamedFromClause, now: int | None) -> ColumnElement[bool]:
    if kind == "token" and isinstance(value, TokenValue):
        return token_condition(value)(table)
    if kind == "quantity" and isinstance(value, QuantityValue):
        return quantity_condition(value, table)
    if kind == "date" and isinstance(value, DateValue):
        return date_condition(value, table.c.low, table.c.high, now)
    if kind == "number" and isinstance(value, NumberValue):
        return number_condition(value, table.c.value)
    if kind == "reference" and isinstance(value, ReferenceValue):
        return reference_condition(value, table)
    if kind == "string" and isinstance(value, str):
        return string_condition(None, value)(table)
    if kind == "uri" and isinstance(value, str):
        return uri_condition(None, value)(table)
    raise ValueError(f"a {type(value).__name__} is no {kind} component value")  # the parser never builds one


_RANGES = frozenset({"gt", "lt", "ge", "le", "sa", "eb", "ne"})


def _ranged(part: Simple) -> bool:
    return isinstance(part, DateValue | NumberValue | QuantityValue) and part.prefix in _RANGES


def _component(param: SearchParam, index: int, kind: str, part: Simple, now: int | None) -> tuple[
        NamedFromClause, list[ColumnElement[bool]]]:
    table = _alias(kind, index)
    code = param.component_params[index].code if param.component_params else component_code(param.code, index)
    tests = [table.c.param == code, component_condition(kind, part, table, now)]
    if param.resource_type:
        tests.append(table.c.res_type == param.resource_type)
    return table, tests


def _rows(param: SearchParam, value: CompositeValue, now: int | None) -> Select[Any]:
    """The first component's rows, the others joined on (resource_pk, element) — on resource_pk alone
    for one made of plain parameters, whose element is the resource.

    When a later component is a range (`$gt140`), it usually holds for many elements: it is then
    tested per row of the first component in a subquery the planner keeps as such (`OFFSET 0`), so
    a first page stops after `count` hits instead of collecting every element in the range (the
    planner cannot estimate a join on two correlated columns and would do just that)."""
    (first_kind, first_part), *others = value.parts
    first, tests = _component(param, 0, first_kind, first_part, now)
    joined: FromClause = first
    for index, (kind, part) in enumerate(others, start=1):
        table, conditions = _component(param, index, kind, part, now)
        same_element = table.c.resource_pk == first.c.resource_pk
        if not param.component_params:
            same_element = and_(same_element, table.c.element == first.c.element)
        if _ranged(part):
            tests.append(select(table.c.resource_pk).where(same_element, *conditions).offset(0).exists())
        else:
            joined = joined.join(table, same_element)
            tests.extend(conditions)
    return select(first.c.resource_pk).select_from(joined).where(*tests, *bounded(first.c.resource_pk)).correlate(None)


def _present(param: SearchParam, resource: FromClause, *, present: bool) -> ColumnElement[bool]:
    """`:missing` of a composite made of plain parameters: present when each of them has rows."""
    if not param.component_params:
        raise ValueError(f"'{param.code}:missing' is asked of its first component's rows")  # as the parser does
    each = [has_rows(resource, source.type, source.resource_type, source.code, present=present)
            for source in param.component_params]
    return and_(*each) if present else or_(*each)


def build(predicate: Predicate, resource: FromClause, now: int | None = None) -> ColumnElement[bool]:
    param = predicate.param
    if predicate.modifier == "missing":
        return _present(param, resource, present=predicate.values[0] is False)
    return or_(*(resource.c.pk.in_(_rows(param, value, now))
                 for value in predicate.values if isinstance(value, CompositeValue)))
