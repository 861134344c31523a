"""Date predicates: each prefix compares the target's range with the search value's range.

Both are inclusive microsecond ranges, the target [low, high] from the index (or a single instant,
for `_lastUpdated`), the search value [start, end] from its precision. Following
https://hl7.org/fhir/R4/search.html#prefix:

    eq  start <= low and high <= end     (the search range contains the target)
    ne  not eq
    gt  high > end                       (part of the target lies after the search range)
    lt  low < start
    ge  gt or eq        le  lt or eq
    sa  low > end       eb  high < start (the target starts after / ends before)
    ap  the ranges overlap once the search range is widened by 10% of its distance from now
"""

from __future__ import annotations

import time

from sqlalchemy import ColumnElement, FromClause, and_, not_, or_

from fhir_server.search.dates import MICROS_PER_DAY
from fhir_server.search.query import DateValue, Predicate
from fhir_server.search.sql.index import matches_any

__all__ = ["build", "date_condition"]


def date_condition(value: DateValue, low: ColumnElement[int], high: ColumnElement[int],
                   now: int | None = None) -> ColumnElement[bool]:
    start, end = value.low, value.high
    # each condition bounds one column to a range (`low <= end` is implied by `high <= end`), so one
    # index answers it; the other column comes from the index's INCLUDE
    equal = and_(low >= start, low <= end, high <= end)
    prefix = value.prefix
    if prefix == "eq":
        return equal
    if prefix == "ne":
        return not_(and_(low >= start, high <= end))
    if prefix == "gt":
        return high > end
    if prefix == "lt":
        return low < start
    if prefix == "ge":  # gt or eq: either way the target ends at or after the start
        return and_(high >= start, or_(high > end, low >= start))
    if prefix == "le":  # lt or eq: either way the target starts at or before the end
        return and_(low <= end, or_(low < start, high <= end))
    if prefix == "sa":
        return low > end
    if prefix == "eb":
        return high < start
    # ap
    current = time.time_ns() // 1000 if now is None else now
    margin = max(abs(current - start) // 10, MICROS_PER_DAY)
    return and_(low <= end + margin, high >= start - margin)


def build(predicate: Predicate, resource: FromClause, now: int | None = None) -> ColumnElement[bool]:
    param = predicate.param
    conditions = [
        (lambda table, value=value: date_condition(value, table.c.low, table.c.high, now))
        for value in predicate.values if isinstance(value, DateValue)
    ]
    return matches_any(resource, "date", param.resource_type, param.code, conditions)
