"""String predicates: starts-with by default, `:contains`, `:exact` (https://hl7.org/fhir/R4/search.html#string).

The default and `:contains` compare the normalised form (case, accents and punctuation folded, as
`fhir_server.search.normalize` does at indexing), `:exact` the text as written.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, FromClause

from fhir_server.search.normalize import normalize, truncate
from fhir_server.search.query import Predicate
from fhir_server.search.sql.dialect import contains, starts_with
from fhir_server.search.sql.index import Condition, matches_any

__all__ = ["build", "string_condition"]


def string_condition(modifier: str | None, text: str) -> Condition:
    if modifier == "exact":
        return lambda table: table.c.value_exact == text
    norm = truncate(normalize(text))
    if modifier == "contains":
        return lambda table: contains(table.c.value_norm, norm)
    return lambda table: starts_with(table.c.value_norm, norm)


def build(predicate: Predicate, resource: FromClause) -> ColumnElement[bool]:
    param = predicate.param
    conditions = [string_condition(predicate.modifier, str(value)) for value in predicate.values]
    return matches_any(resource, "string", param.resource_type, param.code, conditions)
