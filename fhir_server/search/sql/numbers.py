"""Number predicates (https://hl7.org/fhir/R4/search.html#number), shared with quantities.

The search value's digits set its range: `100` is [99.5, 100.5). `eq` (the default) matches an
indexed value inside that range, `ne` one outside it; `gt lt ge le` compare with the value as
written; `sa` / `eb` match values past the end / before the start of the range; `ap` within 10%
of the value (or within its range, if that is wider).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, FromClause, and_, or_

from fhir_server.search.query import NumberValue, Predicate, QuantityValue
from fhir_server.search.sql.index import matches_any

__all__ = ["build", "number_condition"]


def number_condition(value: NumberValue | QuantityValue, column: ColumnElement[float]) -> ColumnElement[bool]:
    exact, low, high = float(value.value), value.low, value.high
    prefix = value.prefix
    if prefix == "eq":
        return and_(column >= low, column < high)
    if prefix == "ne":
        return or_(column < low, column >= high)
    if prefix == "gt":
        return column > exact
    if prefix == "lt":
        return column < exact
    if prefix == "ge":
        return column >= exact
    if prefix == "le":
        return column <= exact
    if prefix == "sa":
        return column >= high
    if prefix == "eb":
        return column < low
    # ap
    margin = max(abs(exact) * 0.1, high - exact)
    return and_(column >= exact - margin, column <= exact + margin)


def build(predicate: Predicate, resource: FromClause) -> ColumnElement[bool]:
    param = predicate.param
    conditions = [
        (lambda table, value=value: number_condition(value, table.c.value))
        for value in predicate.values if isinstance(value, NumberValue)
    ]
    return matches_any(resource, "number", param.resource_type, param.code, conditions)
