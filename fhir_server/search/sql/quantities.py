"""Quantity predicates: a number test plus the unit (https://hl7.org/fhir/R4/search.html#quantity).

`[prefix]number` ignores units; `number|system|code` requires both; `number||code` matches the code
or the unit text. Units are not converted (no UCUM canonical form is indexed yet).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, FromClause, and_, or_
from sqlalchemy.sql.selectable import NamedFromClause

from fhir_server.search.query import Predicate, QuantityValue
from fhir_server.search.sql.index import matches_any
from fhir_server.search.sql.numbers import number_condition

__all__ = ["build"]


def _condition(value: QuantityValue, table: NamedFromClause) -> ColumnElement[bool]:
    tests = [number_condition(value, table.c.value)]
    if value.system is not None:
        tests.append(table.c.system == value.system)
        if value.code is not None:
            tests.append(table.c.code == value.code)
    elif value.code is not None:
        tests.append(or_(table.c.code == value.code, table.c.unit == value.code))
    return and_(*tests)


def build(predicate: Predicate, resource: FromClause) -> ColumnElement[bool]:
    param = predicate.param
    conditions = [
        (lambda table, value=value: _condition(value, table))
        for value in predicate.values if isinstance(value, QuantityValue)
    ]
    return matches_any(resource, "quantity", param.resource_type, param.code, conditions)
