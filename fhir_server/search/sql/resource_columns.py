"""`_id` and `_lastUpdated`: predicates on the `resources` row itself, not on index rows.

`_lastUpdated` compares the stored instant (epoch microseconds) as a zero-width range with the
date prefixes of `sql.dates`; `_id` matches any of the ids (`:not` none of them).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, FromClause, false, or_, true

from fhir_server.search.query import DateValue, Predicate, TokenValue
from fhir_server.search.sql.dates import date_condition

__all__ = ["build"]


def build(predicate: Predicate, resource: FromClause, now: int | None = None) -> ColumnElement[bool]:
    if predicate.modifier == "missing":
        # every resource has an id and a lastUpdated
        return false() if predicate.values[0] is True else true()
    if predicate.param.code == "_lastUpdated":
        column = resource.c.last_updated
        return or_(*(date_condition(value, column, column, now)
                     for value in predicate.values if isinstance(value, DateValue)))
    ids = [value.code for value in predicate.values if isinstance(value, TokenValue) and value.code]
    if predicate.modifier == "not":
        return resource.c.res_id.not_in(ids)
    return resource.c.res_id.in_(ids)
