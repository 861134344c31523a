"""Reference predicates (https://hl7.org/fhir/R4/search.html#reference).

`Type/id`, `id` (any type, or the `:Type` modifier's), `Type/id/_history/v`, an absolute or
canonical URL (`url|version`), and `:identifier` (the Reference.identifier, indexed as token rows of
`code:identifier`). Chains and `_has` are built by the compiler on the same rows.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, FromClause, and_
from sqlalchemy.sql.selectable import NamedFromClause

from fhir_server.search.indexers import IDENTIFIER, URI_WIDTH
from fhir_server.search.normalize import truncate
from fhir_server.search.query import Predicate, ReferenceValue, TokenValue
from fhir_server.search.sql.index import matches_any
from fhir_server.search.sql.tokens import token_condition

__all__ = ["build", "reference_condition"]


def reference_condition(value: ReferenceValue, table: NamedFromClause) -> ColumnElement[bool]:
    columns = table.c
    if value.url is not None:
        tests = [columns.url == truncate(value.url, URI_WIDTH)]
    else:
        tests = [columns.target_id == value.target_id]
        if value.target_type is not None:
            tests.append(columns.target_type == value.target_type)
    if value.version is not None:
        tests.append(columns.target_version == value.version)
    return and_(*tests)


def build(predicate: Predicate, resource: FromClause) -> ColumnElement[bool]:
    param = predicate.param
    if predicate.modifier == "identifier":
        tokens = [token_condition(value) for value in predicate.values if isinstance(value, TokenValue)]
        return matches_any(resource, "token", param.resource_type, param.code + IDENTIFIER, tokens)
    conditions = [
        (lambda table, value=value: reference_condition(value, table))
        for value in predicate.values if isinstance(value, ReferenceValue)
    ]
    return matches_any(resource, "reference", param.resource_type, param.code, conditions)
