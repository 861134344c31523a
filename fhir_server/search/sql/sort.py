"""`_sort` keys as SQL expressions over a resource row (https://hl7.org/fhir/R4/search.html#sort).

A parameter may have several values per resource: ascending order sorts by the smallest, descending
by the largest (for dates, the earliest start / the latest end). Resources without a value sort
last either way. Text keys compare byte-wise on both databases (`dialect.binary`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, FromClause, func, select

from fhir_server.db.tables import SEARCH_INDEX_TABLES
from fhir_server.search.query import SortKey
from fhir_server.search.sql.dialect import binary

__all__ = ["sort_expression", "is_text_key"]

# the index column each sortable parameter type sorts on: (ascending column, descending column)
_COLUMNS = {
    "string": ("value_norm", "value_norm"),
    "token": ("code", "code"),
    "uri": ("value", "value"),
    "date": ("low", "high"),
    "number": ("value", "value"),
    "quantity": ("value", "value"),
}
_TEXT_TYPES = frozenset({"string", "token", "uri"})


def is_text_key(key: SortKey) -> bool:
    return key.param.code == "_id" or key.param.type in _TEXT_TYPES and not key.param.on_resource_table


def sort_expression(key: SortKey, resource: FromClause) -> ColumnElement[Any]:
    """The value `resource` sorts by for `key`: a column, or a scalar subquery over its index rows."""
    param = key.param
    if param.code == "_id":
        return binary(resource.c.res_id)
    if param.code == "_lastUpdated":
        return resource.c.last_updated
    table = SEARCH_INDEX_TABLES[param.type].alias()
    column: ColumnElement[Any] = table.c[_COLUMNS[param.type][1 if key.descending else 0]]
    if param.type in _TEXT_TYPES:
        column = binary(column)
    aggregate = func.max(column) if key.descending else func.min(column)
    return (
        select(aggregate)
        .where(table.c.resource_pk == resource.c.pk, table.c.res_type == param.resource_type,
               table.c.param == param.code)
        .scalar_subquery()
    )
