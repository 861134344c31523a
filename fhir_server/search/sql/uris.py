"""URI predicates (https://hl7.org/fhir/R4/search.html#uri): exact by default, `:below` for the
stored URIs starting with the value, `:above` for those the value starts with. URIs are
case-sensitive, so prefixes are compared exactly on both databases (see `dialect`)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, FromClause

from fhir_server.search.indexers import URI_WIDTH
from fhir_server.search.normalize import truncate
from fhir_server.search.query import Predicate
from fhir_server.search.sql.dialect import case_sensitive_prefix, text_literal
from fhir_server.search.sql.index import Condition, matches_any

__all__ = ["build", "uri_condition"]


def uri_condition(modifier: str | None, uri: str) -> Condition:
    if modifier == "below":
        return lambda table: case_sensitive_prefix(table.c.value, text_literal(uri))
    if modifier == "above":
        return lambda table: case_sensitive_prefix(text_literal(uri), table.c.value)
    return lambda table: table.c.value == truncate(uri, URI_WIDTH)


def build(predicate: Predicate, resource: FromClause) -> ColumnElement[bool]:
    param = predicate.param
    conditions = [uri_condition(predicate.modifier, str(value)) for value in predicate.values]
    return matches_any(resource, "uri", param.resource_type, param.code, conditions)
