"""`_sort` keys as SQL expressions over a resource row (https://hl7.org/fhir/R4/search.html#sort).

A parameter may have several values per resource: ascending order sorts by the smallest, descending
by the largest (for dates, the earliest start / the latest end). Resources without a value sort
last either way. Text keys compare byte-wise on both databases (`dialect.binary`); quantities compare
in canonical UCUM units where they have them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, FromClause, Select, and_, func, literal, or_, select

from fhir_server.db.tables import SEARCH_INDEX_TABLES
from fhir_server.search.query import SortKey
from fhir_server.search.sql.dialect import binary, row_identity
from fhir_server.search.sql.index import absent, param_is

__all__ = ["sort_expression", "is_text_key", "keyed_rows", "unkeyed_rows", "INDEXED_SORT_TYPES"]

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
    if param.type == "quantity":
        # in canonical UCUM units where known, so 5400 umol/L sorts below 6.1 mmol/L
        column = func.coalesce(table.c.canonical_value, column)
    if param.type in _TEXT_TYPES:
        column = binary(column)
    aggregate = func.max(column) if key.descending else func.min(column)
    statement = select(aggregate).where(table.c.resource_pk == resource.c.pk, param_is(table.c.param, param.row_codes))
    if param.resource_type:
        statement = statement.where(table.c.res_type == param.resource_type)
    return statement.scalar_subquery()


# one sort key of these types is answered walking the index table in key order (see `keyed_rows`)
INDEXED_SORT_TYPES = frozenset({"string", "token", "date", "number", "uri"})


def _key_column(table: Any, key: SortKey) -> ColumnElement[Any]:
    column: ColumnElement[Any] = table.c[_COLUMNS[key.param.type][1 if key.descending else 0]]
    return binary(column) if key.param.type in _TEXT_TYPES else column


def keyed_rows(key: SortKey, matches: Select[Any], after: tuple[Any, int] | None) -> Select[Any]:
    """(pk, k0) of the matches that have a value for `key`, in key order then pk, from `after`
    (key value, pk) on: each resource once, with its smallest value ascending, largest descending.

    The index rows are read in key order and each checked against the matches, so a first page
    stops after `count` hits instead of sorting every match (`Observation?code=x&_sort=-date`)."""
    param = key.param
    table = SEARCH_INDEX_TABLES[param.type].alias("keyed")
    best = SEARCH_INDEX_TABLES[param.type].alias("best")
    column, best_column = _key_column(table, key), _key_column(best, key)
    # the row holding the resource's best value (ties: the one stored first): no other row of it comes first.
    # NOT EXISTS rather than `pk = (SELECT ...)`, which the planner takes for a rare condition
    better = best_column > column if key.descending else best_column < column
    outranked = select(best.c.resource_pk).where(
        best.c.resource_pk == table.c.resource_pk, param_is(best.c.param, param.row_codes), best_column.is_not(None),
        *([best.c.res_type == param.resource_type] if param.resource_type else []),
        or_(better, and_(best_column == column, row_identity(best.c.resource_pk) < row_identity(table.c.resource_pk))))
    statement = select(table.c.resource_pk.label("pk"), column.label("k0")).where(
        param_is(table.c.param, param.row_codes),
        *([table.c.res_type == param.resource_type] if param.resource_type else []),
        column.is_not(None), table.c.resource_pk.in_(matches), ~outranked.exists())
    if after is not None:
        value, last_pk = after
        beyond = column < value if key.descending else column > value
        statement = statement.where(or_(beyond, and_(column == value, table.c.resource_pk > last_pk)))
    order = column.desc() if key.descending else column.asc()
    return statement.order_by(order, table.c.resource_pk.asc())


def unkeyed_rows(key: SortKey, matches: Select[Any], after_pk: int | None) -> Select[Any]:
    """(pk, NULL) of the matches without a value for `key` (they sort last), in pk order.

    Each match is looked up in the index by its pk (`index.absent`): `pk NOT IN (rows with a value)`
    made PostgreSQL hash every row of the parameter, a read of the whole table's dates for the tail
    of one patient's `Observation?subject=x&_sort=-date`."""
    param = key.param
    pk = matches.selected_columns[0]
    statement = matches.where(absent(pk, param.type, param.resource_type, param.row_codes,
                                     [lambda table: _key_column(table, key).is_not(None)]))
    if after_pk is not None:
        statement = statement.where(pk > after_pk)
    return statement.add_columns(literal(None).label("k0")).order_by(pk.asc())
