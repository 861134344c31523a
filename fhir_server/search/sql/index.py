"""The shape every index-table predicate shares: `resources.pk IN (matching index rows)`.

Each subquery names the index table itself and is explicitly uncorrelated (`correlate(None)`), so
sibling and nested subqueries (chains, `_has`) never correlate with one another, and both databases
can answer it from the `(res_type, param, value...)` indexes before touching `resources`. (Plain
tables rather than fresh aliases: building an alias costs more than compiling the whole query.)
Negations are the exception: `NOT EXISTS` over the resource's own rows, correlated on its pk, through
aliases built once (`absent`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import ColumnElement, FromClause, Select, or_, select
from sqlalchemy.sql.selectable import NamedFromClause

from fhir_server.db.tables import SEARCH_INDEX_TABLES

__all__ = ["Condition", "index_rows", "matches_any", "absent", "has_rows", "pk_bound", "bounded", "param_is"]

Condition = Callable[[NamedFromClause], ColumnElement[bool]]

# ("gt" | "lt", pk): while a page after (before) a cursor is compiled, the index subqueries of the
# searched resources start at the cursor themselves; the database does not carry `resources.pk > x`
# into `resources.pk IN (...)`, and would read every index row of a common code from the start
_BOUND: ContextVar[tuple[str, int] | None] = ContextVar("search_pk_bound", default=None)


@contextmanager
def pk_bound(bound: tuple[str, int] | None) -> Iterator[None]:
    """Within the block, index subqueries of the searched resources keep to pks beyond `bound`
    (None: no bound, as for the criteria of chained or `_has` resources)."""
    token = _BOUND.set(bound)
    try:
        yield
    finally:
        _BOUND.reset(token)


def bounded(column: ColumnElement[int]) -> list[ColumnElement[bool]]:
    """The condition the current bound puts on a `resource_pk` column (or none)."""
    bound = _BOUND.get()
    if bound is None:
        return []
    return [column > bound[1]] if bound[0] == "gt" else [column < bound[1]]


def index_rows(kind: str, res_type: str, param: str,
               conditions: Sequence[Condition] = ()) -> Select[Any]:
    """`resource_pk` of the `kind` index rows of `res_type.param` meeting any of `conditions`
    (`res_type` "": rows of any type, for a system search)."""
    table = SEARCH_INDEX_TABLES[kind]
    statement = select(table.c.resource_pk).where(table.c.param == param).correlate(None)
    if res_type:
        statement = statement.where(table.c.res_type == res_type)
    if conditions:
        statement = statement.where(or_(*(condition(table) for condition in conditions)))
    return statement


def _bounded_rows(kind: str, res_type: str, param: str, conditions: Sequence[Condition]) -> Select[Any]:
    rows = index_rows(kind, res_type, param, conditions)
    return rows.where(*bounded(rows.selected_columns[0]))


# the index tables as a negation's subquery names them, apart from any table of the query around it
_ABSENT = {kind: table.alias(f"absent_{kind}") for kind, table in SEARCH_INDEX_TABLES.items()}


def param_is(column: ColumnElement[str], param: str | tuple[str, ...]) -> ColumnElement[bool]:
    """An index row's `param` column is `param`, or one of them (a union's, `SearchParam.row_codes`)."""
    if isinstance(param, str):
        return column == param
    return column == param[0] if len(param) == 1 else column.in_(param)


def absent(pk: ColumnElement[int], kind: str, res_type: str, param: str | tuple[str, ...],
           conditions: Sequence[Condition] = ()) -> ColumnElement[bool]:
    """The resource whose pk is `pk` has no `kind` row of `res_type.param` (or of any of `param`)
    meeting any of `conditions`.

    NOT EXISTS over the resource's own rows, correlated on its pk: `pk NOT IN (rows)` cannot become
    an anti-join, so PostgreSQL hashed every row of the parameter for it, and ran the subquery once
    per resource where they outgrew `work_mem`."""
    table = _ABSENT[kind]
    rows = select(table.c.resource_pk).where(table.c.resource_pk == pk, param_is(table.c.param, param))
    if res_type:
        rows = rows.where(table.c.res_type == res_type)
    if conditions:
        rows = rows.where(or_(*(condition(table) for condition in conditions)))
    return ~rows.exists()


def matches_any(resource: FromClause, kind: str, res_type: str, param: str,
                conditions: Sequence[Condition], *, negate: bool = False) -> ColumnElement[bool]:
    """The resource has a row meeting one of the conditions (or, negated, none has: `absent`)."""
    if negate:
        return absent(resource.c.pk, kind, res_type, param, conditions)
    return resource.c.pk.in_(_bounded_rows(kind, res_type, param, conditions))


def has_rows(resource: FromClause, kind: str, res_type: str, param: str, *, present: bool) -> ColumnElement[bool]:
    """`:missing=false` (present) or `:missing=true` (absent) on an indexed parameter."""
    return matches_any(resource, kind, res_type, param, (), negate=not present)
