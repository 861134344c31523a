"""The few places where PostgreSQL and SQLite answer differently, hidden behind dialect-aware SQL.

Statements stay dialect-neutral (the caller executes them on either engine); these constructs
render per dialect when compiled:

- `binary(expr)`: byte-order comparison and sorting of text. SQLite compares with BINARY by
  default; PostgreSQL uses the database's locale collation (where `a b` may sort after `ab`), so
  it gets `COLLATE "C"` to order and page exactly like SQLite.
- `starts_with(column, prefix)`: a prefix test. `LIKE` is case-insensitive for ASCII on SQLite but
  case-sensitive on PostgreSQL, so it is used only on normalised (lower-case) columns, where both
  agree; case-sensitive prefixes (URIs) compare `substr()` instead, identical on both.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, func, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.expression import FunctionElement

__all__ = ["binary", "starts_with", "contains", "case_sensitive_prefix", "escape_like", "text_literal"]

_ESCAPE = "\\"


class binary(FunctionElement[str]):  # noqa: N801 - reads like the SQL it stands for
    """Text compared and ordered byte by byte, on every dialect."""

    type = String()
    inherit_cache = True
    name = "binary"


@compiles(binary)
def _binary_default(element: binary, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.clauses.clauses[0], **kw))


@compiles(binary, "postgresql")
def _binary_postgresql(element: binary, compiler: Any, **kw: Any) -> str:
    return f'({compiler.process(element.clauses.clauses[0], **kw)}) COLLATE "C"'


def escape_like(text: str) -> str:
    return text.replace(_ESCAPE, _ESCAPE * 2).replace("%", _ESCAPE + "%").replace("_", _ESCAPE + "_")


def starts_with(column: ColumnElement[str], prefix: str) -> ColumnElement[bool]:
    """`column` starts with `prefix`; for lower-case normalised columns only (see module doc)."""
    return column.like(escape_like(prefix) + "%", escape=_ESCAPE)


def contains(column: ColumnElement[str], fragment: str) -> ColumnElement[bool]:
    """`column` contains `fragment`; for lower-case normalised columns only."""
    return column.like("%" + escape_like(fragment) + "%", escape=_ESCAPE)


def case_sensitive_prefix(text: ColumnElement[str], prefix: ColumnElement[str]) -> ColumnElement[bool]:
    """`text` starts with `prefix`, both SQL expressions, comparing exactly on both dialects."""
    return func.substr(text, 1, func.length(prefix)) == prefix


def text_literal(value: str) -> ColumnElement[str]:
    return literal(value, String())
