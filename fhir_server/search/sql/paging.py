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
from fhir_server.search.sql.sort import is_text_key, sort_expression

__all__ = ["PageQuery", "compile_page", "encode_cursor", "decode_cursor"]

_Key = str | int | float | None


def _signature(keys: Sequence[SortKey]) -> str:
    return ",".join(("-" if key.descending else "") + key.param.code for key in keys)


def encode_cursor(keys: Sequence[SortKey], values: Sequence[_Key], pk: int) -> str:
    payload = json.dumps({"s": _signature(keys), "k": list(values), "p": pk}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(keys: Sequence[SortKey], cursor: str) -> tuple[list[_Key], int]:
    """(sort key values, pk) of the row a cursor points after; BadRequest if it is not ours."""
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        values, pk, signature = payload["k"], payload["p"], payload["s"]
    except (ValueError, TypeError, KeyError, binascii.Error) as exc:
        raise BadRequest("invalid _cursor") from exc
    if (signature != _signature(keys) or not isinstance(values, list) or len(values) != len(keys)
            or not isinstance(pk, int) or not all(isinstance(v, str | int | float) or v is None for v in values)):
        raise BadRequest("the _cursor does not belong to this search (was _sort changed?)")
    return values, pk


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


@dataclass(frozen=True, slots=True)
class PageQuery:
    """The statement of one page and how to read its rows back into pks and the next cursor."""

    statement: Select[Any]
    count: int
    keys: tuple[SortKey, ...]

    def page(self, rows: Sequence[Row[Any]]) -> tuple[list[int], str | None]:
        """(pks of this page, cursor of the next page or None)."""
        if self.count == 0:
            return [], None
        pks = [row[0] for row in rows[:self.count]]
        if len(rows) <= self.count:
            return pks, None
        last = rows[self.count - 1]
        return pks, encode_cursor(self.keys, list(last[1:]), last[0])


def compile_page(query: ParsedQuery, *, default_count: int = 20, max_count: int = 1000,
                 now: int | None = None) -> PageQuery:
    """The page `_count` (capped at `max_count`) and `_cursor` of `query` ask for, in `_sort` order."""
    keys = query.result.sort
    count = min(query.result.count if query.result.count is not None else default_count, max_count)
    labelled = [sort_expression(key, resources).label(f"k{index}") for index, key in enumerate(keys)]
    matches = compile_query(query, now=now).add_columns(*labelled).subquery()
    columns: list[ColumnElement[Any]] = [
        binary(matches.c[f"k{index}"]) if is_text_key(key) else matches.c[f"k{index}"]
        for index, key in enumerate(keys)
    ]
    statement = select(matches.c.pk, *(matches.c[f"k{index}"] for index in range(len(keys))))
    if query.result.cursor:
        values, last_pk = decode_cursor(keys, query.result.cursor)
        statement = statement.where(_after(columns, keys, values, matches.c.pk, last_pk))
    order = [(column.desc() if key.descending else column.asc()).nulls_last() for column, key in zip(columns, keys, strict=True)]
    statement = statement.order_by(*order, matches.c.pk.asc()).limit(count + 1)
    return PageQuery(statement, count, keys)
