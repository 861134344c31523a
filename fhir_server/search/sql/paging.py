"""One page of search results, in `_sort` order, with an opaque keyset cursor to the next page.

The statement selects `pk` and the sort key values of up to `count + 1` matches after the cursor
position; the extra row only tells that another page exists. The cursor (`_cursor`) is the last
row's keys and pk, base64url-encoded JSON together with the `_sort` it belongs to, so paging is
stateless, stable under concurrent inserts, and a cursor replayed with another `_sort` is refused.
Ties and missing values (sorted last) are broken by pk.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, and_, or_, select

from fhir_server.db.tables import resources
from fhir_server.errors import BadRequest
from fhir_server.search.query import ParsedQuery, SortKey
from fhir_server.search.sql.compile import compile_query
from fhir_server.search.sql.dialect import binary
from fhir_server.search.sql.sort import (
    INDEXED_SORT_TYPES,
    is_text_key,
    keyed_rows,
    sort_expression,
    unkeyed_rows,
)

__all__ = ["PageQuery", "Page", "Cursor", "compile_page", "encode_cursor", "decode_cursor", "read_cursor"]

_Key = str | int | float | None


def _signature(keys: Sequence[SortKey]) -> str:
    return ",".join(("-" if key.descending else "") + key.param.code for key in keys)


def encode_cursor(keys: Sequence[SortKey], values: Sequence[_Key], pk: int, *, backward: bool = False) -> str:
    """The cursor of the page after (or, `backward`, before) the row with these key values and pk."""
    body: dict[str, Any] = {"s": _signature(keys), "k": list(values), "p": pk}
    if backward:
        body["b"] = 1
    payload = json.dumps(body, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


@dataclass(frozen=True, slots=True)
class Cursor:
    values: list[_Key]
    pk: int
    backward: bool = False


def read_cursor(keys: Sequence[SortKey], cursor: str) -> Cursor:
    """The position a cursor points at; BadRequest if it is not one of ours for this `_sort`."""
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        values, pk, signature = payload["k"], payload["p"], payload["s"]
        backward = payload.get("b") == 1
    except (ValueError, TypeError, KeyError, AttributeError, binascii.Error) as exc:
        raise BadRequest("invalid _cursor") from exc
    if (signature != _signature(keys) or not isinstance(values, list) or len(values) != len(keys)
            or not isinstance(pk, int) or isinstance(pk, bool)
            or not all(isinstance(v, str | int | float) or v is None for v in values)):
        raise BadRequest("the _cursor does not belong to this search (was _sort changed?)")
    return Cursor(values, pk, backward)


def decode_cursor(keys: Sequence[SortKey], cursor: str) -> tuple[list[_Key], int]:
    """(sort key values, pk) of the row a cursor points after; BadRequest if it is not ours."""
    found = read_cursor(keys, cursor)
    return found.values, found.pk


def _after(columns: Sequence[ColumnElement[Any]], keys: Sequence[SortKey], values: Sequence[_Key],
           pk: ColumnElement[int], last_pk: int) -> ColumnElement[bool]:
    """Rows strictly after the cursor row in (keys..., pk) order, missing values last."""
    condition: ColumnElement[bool] = pk > last_pk
    for column, key, value in reversed(list(zip(columns, keys, values, strict=True))):
        if value is None:
            condition = and_(column.is_(None), condition)
        else:
            beyond = column < value if key.descending else column > value
            condition = or_(beyond, column.is_(None), and_(column == value, condition))
    return condition


def _before(columns: Sequence[ColumnElement[Any]], keys: Sequence[SortKey], values: Sequence[_Key],
            pk: ColumnElement[int], first_pk: int) -> ColumnElement[bool]:
    """Rows strictly before the cursor row in (keys..., pk) order, missing values last."""
    condition: ColumnElement[bool] = pk < first_pk
    for column, key, value in reversed(list(zip(columns, keys, values, strict=True))):
        if value is None:
            condition = or_(column.is_not(None), and_(column.is_(None), condition))
        else:
            earlier = column > value if key.descending else column < value
            condition = or_(earlier, and_(column == value, condition))
    return condition


@dataclass(frozen=True, slots=True)
class Page:
    """One page of matches: their pks in order, and the cursors of the pages after and before."""

    pks: list[int]
    next: str | None
    previous: str | None


def _ordering(columns: Sequence[ColumnElement[Any]], keys: Sequence[SortKey], pk: ColumnElement[int],
              backward: bool) -> list[ColumnElement[Any]]:
    """ORDER BY of a page: the `_sort` keys (missing values last) then pk; all reversed when `backward`."""
    if backward:
        order = [(column.asc() if key.descending else column.desc()).nulls_first()
                 for column, key in zip(columns, keys, strict=True)]
        return [*order, pk.desc()]
    order = [(column.desc() if key.descending else column.asc()).nulls_last()
             for column, key in zip(columns, keys, strict=True)]
    return [*order, pk.asc()]


def _sort_columns(source: Any, keys: Sequence[SortKey]) -> list[ColumnElement[Any]]:
    return [binary(source.c[f"k{index}"]) if is_text_key(key) else source.c[f"k{index}"]
            for index, key in enumerate(keys)]


@dataclass(frozen=True, slots=True)
class PageQuery:
    """The statement of one page and how to read its rows back into pks and cursors.

    `statement` selects (pk, sort keys...); `with_resources()` the same rows followed by the resource
    columns (res_type, res_id, version_id, last_updated, body), so a page is one round trip."""

    statement: Select[Any]
    count: int
    keys: tuple[SortKey, ...]
    backward: bool = False
    from_cursor: bool = False
    # the matches without a sort value, to read when `statement` (those with one) ran out
    tail: Select[Any] | None = None

    def with_resources(self, statement: Select[Any] | None = None) -> Select[Any]:
        page = (self.statement if statement is None else statement).subquery()
        stored = resources.alias("stored")
        return (
            select(page.c.pk, *(page.c[f"k{index}"] for index in range(len(self.keys))),
                   stored.c.res_type, stored.c.res_id, stored.c.version_id, stored.c.last_updated, stored.c.body)
            .select_from(page.join(stored, stored.c.pk == page.c.pk))
            .order_by(*_ordering(_sort_columns(page, self.keys), self.keys, page.c.pk, self.backward))
        )

    def page(self, rows: Sequence[Row[Any]]) -> tuple[list[int], str | None]:
        """(pks of this page, cursor of the next page or None)."""
        result = self.read(rows)
        return result.pks, result.next

    def read(self, rows: Sequence[Sequence[Any]]) -> Page:
        """The page the statement's rows make, with `next` and `previous` cursors where there are pages
        (rows start with pk and the sort keys; anything after them is ignored)."""
        if self.count == 0:
            return Page([], None, None)
        kept = list(rows[:self.count])
        more = len(rows) > self.count
        if self.backward:
            kept.reverse()
        if not kept:
            return Page([], None, None)
        width = 1 + len(self.keys)
        first, last = kept[0], kept[-1]
        after = encode_cursor(self.keys, list(last[1:width]), last[0])
        before = encode_cursor(self.keys, list(first[1:width]), first[0], backward=True)
        if self.backward:
            return Page([row[0] for row in kept], after, before if more else None)
        return Page([row[0] for row in kept], after if more else None, before if self.from_cursor else None)


def compile_page(query: ParsedQuery, *, default_count: int = 20, max_count: int = 1000,
                 now: int | None = None) -> PageQuery:
    """The page `_count` (capped at `max_count`) and `_cursor` of `query` ask for, in `_sort` order.

    A backward cursor (a `previous` link) reads the rows before its position in reverse order; `read()`
    turns them back."""
    keys = query.result.sort
    count = min(query.result.count if query.result.count is not None else default_count, max_count)
    cursor = read_cursor(keys, query.result.cursor) if query.result.cursor else None
    if (len(keys) == 1 and keys[0].param.type in INDEXED_SORT_TYPES and not keys[0].param.on_resource_table
            and not (cursor is not None and cursor.backward)):
        return _keyed_page(query, keys[0], count, cursor, now)
    labelled = [sort_expression(key, resources).label(f"k{index}") for index, key in enumerate(keys)]
    bound = None
    if cursor is not None and not keys:  # pk order: the cursor is a pk bound the index subqueries can use
        bound = ("lt" if cursor.backward else "gt", cursor.pk)
    matches = compile_query(query, now=now, bound=bound).add_columns(*labelled).subquery()
    columns = _sort_columns(matches, keys)
    statement = select(matches.c.pk, *(matches.c[f"k{index}"] for index in range(len(keys))))
    backward = cursor is not None and cursor.backward
    if cursor is not None:
        bound = _before if backward else _after
        statement = statement.where(bound(columns, keys, cursor.values, matches.c.pk, cursor.pk))
    statement = statement.order_by(*_ordering(columns, keys, matches.c.pk, backward))
    return PageQuery(statement.limit(count + 1), count, keys, backward, cursor is not None)


def _keyed_page(query: ParsedQuery, key: SortKey, count: int, cursor: Cursor | None, now: int | None) -> PageQuery:
    """A page sorted on one indexed parameter: the matches with a value in index order, then (as the
    `tail`, read only when those run out) the matches without one, in pk order."""
    matches = compile_query(query, now=now)
    if cursor is not None and cursor.values[0] is None:  # already among the matches without a value
        statement = unkeyed_rows(key, matches, cursor.pk).limit(count + 1)
        return PageQuery(statement, count, (key,), False, True)
    after = (cursor.values[0], cursor.pk) if cursor is not None else None
    head = keyed_rows(key, matches, after).limit(count + 1)
    tail = unkeyed_rows(key, matches, None).limit(count + 1)
    return PageQuery(head, count, (key,), False, cursor is not None, tail)
