"""Conditional-match statements kept per criteria shape, as SQL text with slots for the values.

A feed names the resources it writes by business identifier (`Patient?identifier=system|value`,
`Observation?identifier=...`): thousands of criteria of a few shapes, each with other values.
Building and rendering the SQLAlchemy statement of one costs more than the database takes to
answer it, so the statement of each shape is compiled once, with marker values in place of the
real ones, and kept as SQL text with the positions of the markers among its parameters; a
criterion of a known shape only has its values put in those positions. The text is the compiler's
own (`compile_query`), so a templated match finds exactly what the compiled one finds.

Shapes covered: criteria made only of token predicates without modifier on index rows (plain
`code`, `system|code`, `|code`, `system|`), the form conditional writes take (`token_predicates`);
for any other query `MatchTemplates.find` returns None and it is compiled as usual.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, literal

from fhir_server.db.tables import resources
from fhir_server.search.normalize import truncate
from fhir_server.search.query import ParsedQuery, Predicate, ResultParams, TokenValue
from fhir_server.search.sql.compile import compile_query
from fhir_server.storage.statements import compile_for

__all__ = ["MatchTemplates", "Template", "Filled", "token_predicates"]

# (resource type, per predicate (parameter, per value (system given, system empty, code given)))
Shape = tuple[str, tuple[tuple[str, tuple[tuple[bool, bool, bool], ...]], ...]]
# SQL text and its positional parameters, numbered from $1
Filled = tuple[str, list[Any]]

_NUMBERED = re.compile(r"\$(\d+)")
_ROW_MARK = -918_273_645  # the marker of the row number column: no token value is an int
_NO_RESULT_PARAMS = ResultParams()


@dataclass(frozen=True, slots=True)
class Template:
    """A shape's SQL text, its parameters, and where the values go in them. Numbered placeholders
    (`$1`, PostgreSQL) are renumbered to follow others in a UNION ALL, so the text is kept cut at
    them (`pieces`); positional ones (`?`, SQLite) need no numbers and the text is kept whole."""

    pieces: tuple[str, ...]
    numbered: bool
    params: tuple[Any, ...]
    slots: tuple[int, ...]  # per value string of the shape (system, code... in order), its position
    row_slot: int

    def render(self, query: ParsedQuery, row: int, offset: int = 0) -> Filled:
        """`query`'s match (a query of this template's shape), its rows numbered `row`, its
        placeholders numbered from `offset + 1`."""
        params = list(self.params)
        for slot, value in zip(self.slots, _strings(query), strict=True):
            params[slot] = value
        params[self.row_slot] = row
        if not self.numbered:
            return self.pieces[0], params
        parts = [self.pieces[0]]
        for number, piece in enumerate(self.pieces[1:], offset + 1):
            parts.append(f"${number}")
            parts.append(piece)
        return "".join(parts), params


def token_predicates(query: ParsedQuery) -> list[Predicate] | None:
    """The query's criteria when they are all token predicates without modifier on rows of their own
    (not a union's), else None."""
    if query.types is not None or query.result != _NO_RESULT_PARAMS or not query.criteria:
        return None
    predicates = []
    for node in query.criteria:
        if not (isinstance(node, Predicate) and node.modifier is None and node.param.type == "token"
                and not node.param.on_resource_table and not node.param.union_of
                and all(isinstance(value, TokenValue) for value in node.values)):
            return None
        predicates.append(node)
    return predicates


def _value_shape(value: TokenValue) -> tuple[bool, bool, bool]:
    return bool(value.system), value.system == "", value.code is not None


def _strings(query: ParsedQuery) -> list[str]:
    """The values to put in the slots, in the order `_marked` numbers them."""
    found = []
    for predicate in query.criteria:
        assert isinstance(predicate, Predicate)
        for value in predicate.values:
            assert isinstance(value, TokenValue)
            if value.system:
                found.append(truncate(value.system))
            if value.code is not None:
                found.append(truncate(value.code))
    return found


def _marked(predicates: Sequence[Predicate]) -> tuple[list[Predicate], list[str]]:
    """The predicates with every system and code replaced by a distinct marker, and the markers."""
    markers: list[str] = []

    def mark() -> str:
        markers.append(f"\x00match-slot-{len(markers)}\x00")
        return markers[-1]

    marked = []
    for predicate in predicates:
        values = []
        for value in predicate.values:
            assert isinstance(value, TokenValue)
            system = mark() if value.system else value.system
            code = mark() if value.code is not None else None
            values.append(TokenValue(system, code))
        marked.append(Predicate(predicate.param, None, tuple(values)))
    return marked, markers


class MatchTemplates:
    """Per dialect and shape, the SQL of `SELECT pk, res_id, <row number>` matching a query."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._templates: OrderedDict[tuple[Any, Shape], Template | None] = OrderedDict()

    def find(self, dialect: Any, query: ParsedQuery) -> Template | None:
        """The template answering `query` on `dialect`, or None when its shape has none."""
        predicates = token_predicates(query)
        if predicates is None:
            return None
        key = (dialect, _shape(query.resource_type, predicates))
        template = self._templates.get(key, False)
        if template is False:
            template = self._templates[key] = _build(dialect, query.resource_type, predicates)
            if len(self._templates) > self.size:
                self._templates.popitem(last=False)
        else:
            self._templates.move_to_end(key)
        return template


def _shape(resource_type: str, predicates: Sequence[Predicate]) -> Shape:
    return resource_type, tuple(
        (predicate.param.code, tuple(_value_shape(value) for value in predicate.values))  # type: ignore[arg-type]
        for predicate in predicates)


def _build(dialect: Any, resource_type: str, predicates: Sequence[Predicate]) -> Template | None:
    marked, markers = _marked(predicates)
    statement = compile_query(ParsedQuery(resource_type, tuple(marked))).add_columns(
        resources.c.res_id, literal(_ROW_MARK, Integer).label("n"))
    sql, params = compile_for(statement, dialect)
    slots = []
    for marker in [*markers, _ROW_MARK]:
        positions = [n for n, param in enumerate(params) if type(param) is type(marker) and param == marker]
        if len(positions) != 1:
            return None  # a value the compiler transformed or repeated: not templatable as it is
        slots.append(positions[0])
    numbers = [int(number) for number in _NUMBERED.findall(sql)]
    if numbers:
        if numbers != list(range(1, len(params) + 1)):
            return None
        pieces = tuple(_NUMBERED.split(sql)[0::2])
    elif sql.count("?") == len(params):
        pieces = (sql,)
    else:
        return None
    return Template(pieces, bool(numbers), tuple(params), tuple(slots[:-1]), slots[-1])
