"""Quantity predicates: a number test plus the unit (https://hl7.org/fhir/R4/search.html#quantity).

`[prefix]number` ignores units; `number||code` matches the code or the unit text;
`number|system|code` requires both. When the system is UCUM and the code a UCUM unit this server
knows, the value is converted to the canonical (base) units and compared with the canonical form
indexed at write time, so `gt5.4|http://unitsofmeasure.org|mmol/L` matches `5500 umol/L`; only
commensurable units ever match (never mmol/L with mg/dL).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, FromClause, and_, or_
from sqlalchemy.sql.selectable import NamedFromClause

from fhir_server.search.quantities import to_canonical
from fhir_server.search.query import Predicate, QuantityValue
from fhir_server.search.sql.index import matches_any
from fhir_server.search.sql.numbers import number_condition

__all__ = ["build", "quantity_condition"]


def quantity_condition(value: QuantityValue, table: NamedFromClause) -> ColumnElement[bool]:
    canonical = to_canonical(value)
    if canonical is not None:
        if canonical.prefix == "ap":  # the bounds are the approximate range already
            return and_(table.c.canonical_code == canonical.code, table.c.canonical_value >= canonical.low,
                        table.c.canonical_value <= canonical.high)
        return and_(table.c.canonical_code == canonical.code, number_condition(canonical, table.c.canonical_value))
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
        (lambda table, value=value: quantity_condition(value, table))
        for value in predicate.values if isinstance(value, QuantityValue)
    ]
    return matches_any(resource, "quantity", param.resource_type, param.code, conditions)
