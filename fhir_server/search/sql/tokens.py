"""Token predicates (https://hl7.org/fhir/R4/search.html#token).

`code`, `system|code`, `|code` (no system), `system|` (any code of the system); `:not` (no row
matches, so resources without the parameter match too), `:text` (the display / text, matched like a
string at the start of any word), `:of-type` on identifiers (`type-system|type-code|value`, indexed as
`identifier:of-type` rows), and `:missing` (handled by the compiler).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, FromClause, and_, or_
from sqlalchemy.sql.selectable import NamedFromClause

from fhir_server.search.indexers import OF_TYPE
from fhir_server.search.normalize import normalize, truncate
from fhir_server.search.query import Predicate, TokenValue
from fhir_server.search.sql.dialect import contains, starts_with
from fhir_server.search.sql.index import Condition, matches_any

__all__ = ["build", "token_condition"]


def token_condition(value: TokenValue) -> Condition:
    """The row test for one `[system|]code` value, shared with `reference:identifier`."""
    system = truncate(value.system) if value.system else value.system
    code = truncate(value.code) if value.code else None

    def condition(table: NamedFromClause) -> ColumnElement[bool]:
        columns = table.c
        tests = []
        if code is not None:
            tests.append(columns.code == code)
        if system == "":
            tests.append(columns.system.is_(None))
        elif system is not None:
            tests.append(columns.system == system)
        return and_(*tests)

    return condition


def _text_condition(text: str) -> Condition:
    norm = truncate(normalize(text))
    return lambda table: or_(starts_with(table.c.text_norm, norm), contains(table.c.text_norm, " " + norm))


def build(predicate: Predicate, resource: FromClause) -> ColumnElement[bool]:
    param, modifier = predicate.param, predicate.modifier
    if modifier == "text":
        conditions = [_text_condition(str(value)) for value in predicate.values]
        return matches_any(resource, "token", param.resource_type, param.code, conditions)
    conditions = [token_condition(value) for value in predicate.values if isinstance(value, TokenValue)]
    code = param.code + OF_TYPE if modifier == "of-type" else param.code
    return matches_any(resource, "token", param.resource_type, code, conditions, negate=modifier == "not")
