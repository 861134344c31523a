"""The shape every index-table predicate shares: `resources.pk IN (matching index rows)`.

Each predicate gets its own alias of the index table, so nested subqueries (chains, `_has`)
never correlate with one another by accident, and the subquery is uncorrelated, so both databases
can answer it from the `(res_type, param, value...)` indexes before touching `resources`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, FromClause, Select, or_, select
from sqlalchemy.sql.selectable import NamedFromClause

from fhir_server.db.tables import SEARCH_INDEX_TABLES

__all__ = ["Condition", "index_rows", "matches_any", "has_rows"]

Condition = Callable[[NamedFromClause], ColumnElement[bool]]


def index_rows(kind: str, res_type: str, param: str,
               conditions: Sequence[Condition] = ()) -> Select[Any]:
    """`resource_pk` of the `kind` index rows of `res_type.param` meeting any of `conditions`."""
    table = SEARCH_INDEX_TABLES[kind].alias()
    statement = select(table.c.resource_pk).where(table.c.res_type == res_type, table.c.param == param)
    if conditions:
        statement = statement.where(or_(*(condition(table) for condition in conditions)))
    return statement


def matches_any(resource: FromClause, kind: str, res_type: str, param: str,
                conditions: Sequence[Condition], *, negate: bool = False) -> ColumnElement[bool]:
    """The resource has a row meeting one of the conditions (or, negated, none has)."""
    rows = index_rows(kind, res_type, param, conditions)
    return resource.c.pk.not_in(rows) if negate else resource.c.pk.in_(rows)


def has_rows(resource: FromClause, kind: str, res_type: str, param: str, *, present: bool) -> ColumnElement[bool]:
    """`:missing=false` (present) or `:missing=true` (absent) on an indexed parameter."""
    return matches_any(resource, kind, res_type, param, (), negate=not present)
