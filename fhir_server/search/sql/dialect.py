"""The few places where PostgreSQL and SQLite answer differently, hidden behind dialect-aware SQL.

Statements stay dialect-neutral (the caller executes them on either engine); these constructs
render per dialect when compiled:

- `binary(expr)`: byte-order comparison and sorting of text. SQLite compares with BINARY by
  default; PostgreSQL uses the database's locale collation (where `a b` may sort after `ab`), so
  it gets `COLLATE "C"` to order and page exactly like SQLite.
- `starts_with(column, prefix)`: a prefix test. `LIKE` is case-insensitive for ASCII on SQLite but
  case-sensitive on PostgreSQL, so it is used only on normalised (lower-case) columns, where both
  agree; case-sensitive prefixes (URIs) compare `substr()` instead, identical on both.
- `word_prefixes(column, words)`: every word starts a word of a space-separated word list. PostgreSQL
  asks the GIN index of the list as a tsvector (`db.tables.words_vector`) with a prefix tsquery;
  SQLite tests `LIKE '% word%'` on the list with a space before it.
- `row_identity(column)`: where the row holding `column` is stored (`ctid` on PostgreSQL, the `rowid`
  on SQLite): tells apart the rows of a table that has no key of its own (the index tables).
- `tested_once(condition)`: keeps PostgreSQL from turning the `IN (subquery)` tests inside into
  joins (see its doc); SQLite plans them as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Boolean, String, func, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.expression import FunctionElement

from fhir_server.db.tables import words_vector

__all__ = ["binary", "row_identity", "tested_once", "starts_with", "contains", "case_sensitive_prefix", "escape_like",
           "text_literal", "word_prefixes"]

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


class row_identity(FunctionElement[Any]):  # noqa: N801 - reads like the SQL it stands for
    """The storage position of the row `column` belongs to: unique within its table for the length of
    a statement, and ordered (`<`), so ties between rows can be broken by it."""

    inherit_cache = True
    name = "row_identity"


def _row_of(element: row_identity, compiler: Any, system_column: str, **kw: Any) -> str:
    rendered = str(compiler.process(element.clauses.clauses[0], **kw))  # `table.column`
    return f"{rendered.rpartition('.')[0]}.{system_column}"


@compiles(row_identity)
def _row_identity_default(element: row_identity, compiler: Any, **kw: Any) -> str:
    return _row_of(element, compiler, "rowid", **kw)


@compiles(row_identity, "postgresql")
def _row_identity_postgresql(element: row_identity, compiler: Any, **kw: Any) -> str:
    return _row_of(element, compiler, "ctid", **kw)


class tested_once(FunctionElement[bool]):  # noqa: N801 - reads like the SQL it stands for
    """A condition whose `IN (subquery)` tests PostgreSQL runs once each, into a hashed set that rows
    are then checked against, instead of pulling them up into joins.

    For chains and `_has`: PostgreSQL estimates the rows a reference leads to from the whole index
    table (about one per target, where a practitioner has hundreds of patients and a patient dozens
    of observations), underestimates a chain's matches 20-50 times and joins them one index probe
    at a time (0.3-1 s at a million resources). Tested once, the set is built from its selective
    side and the searched resources are read in pk order against it (2-30 ms). PostgreSQL does not
    pull a sublink out of `IS TRUE`, which only turns NULL into false: the same to a WHERE clause
    (the wrapped conditions are never negated)."""

    type = Boolean()
    inherit_cache = True
    name = "tested_once"


@compiles(tested_once)
def _tested_once_default(element: tested_once, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.clauses.clauses[0], **kw))


@compiles(tested_once, "postgresql")
def _tested_once_postgresql(element: tested_once, compiler: Any, **kw: Any) -> str:
    return f"({compiler.process(element.clauses.clauses[0], **kw)}) IS TRUE"


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


class word_prefixes(FunctionElement[bool]):  # noqa: N801 - reads like the SQL it stands for
    """Built by `word_prefixes.of`: the column, then the tsquery (PostgreSQL), then one LIKE
    pattern per word (SQLite), each a bound parameter."""

    type = Boolean()
    inherit_cache = True
    name = "word_prefixes"

    @classmethod
    def of(cls, column: ColumnElement[str], words: Sequence[str]) -> word_prefixes:
        """Every one of `words` (normalised: letters and digits only, so neither a tsquery operator nor
        a LIKE wildcard) starts a word of `column`, a list of normalised words joined by single spaces."""
        if not words:
            raise ValueError("word_prefixes needs at least one word")
        query = " & ".join(f"'{word}':*" for word in words)
        return cls(column, text_literal(query), *(text_literal(f"% {escape_like(word)}%") for word in words))


@compiles(word_prefixes)
def _word_prefixes_default(element: word_prefixes, compiler: Any, **kw: Any) -> str:
    column, _, *patterns = element.clauses.clauses
    listed = f"(' ' || {compiler.process(column, **kw)})"
    return "(" + " AND ".join(f"{listed} LIKE {compiler.process(p, **kw)} ESCAPE '{_ESCAPE}'" for p in patterns) + ")"


@compiles(word_prefixes, "postgresql")
def _word_prefixes_postgresql(element: word_prefixes, compiler: Any, **kw: Any) -> str:
    column, query, *_ = element.clauses.clauses
    # the index's own expression, so the planner can use it; the query is bound as text
    return f"{compiler.process(words_vector(column), **kw)} @@ CAST({compiler.process(query, **kw)} AS tsquery)"
