"""Token predicates (https://hl7.org/fhir/R4/search.html#token).

`code`, `system|code`, `|code` (no system), `system|` (any code of the system); `:not` (no row
matches, so resources without the parameter match too), `:text` (the display / text, matched like a
string at the start of any word), `:of-type` on identifiers (`type-system|type-code|value`, indexed as
`identifier:of-type` rows), and `:missing` (handled by the compiler).

`:in` / `:not-in` arrive as the codes they stand for (`search.code_sets` resolves value sets and
`:above` / `:below` before compiling): one `system = s AND code IN (...)` per code system, which the
`(res_type, param, code)` index serves; rows without a system (plain `code` elements) are tested on
the code alone. `:not-in` matches resources with no such code, as `:not` does.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import ColumnElement, FromClause, and_, false, or_, true
from sqlalchemy.sql.selectable import NamedFromClause

from fhir_server.search.code_sets import TERMINOLOGY_MODIFIERS, resolved
from fhir_server.search.indexers import OF_TYPE
from fhir_server.search.normalize import normalize, truncate
from fhir_server.search.query import Predicate, TokenValue
from fhir_server.search.refusals import NotSupported
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


def _code_set_condition(values: list[TokenValue]) -> Condition:
    by_system: defaultdict[str, set[str]] = defaultdict(set)
    for value in values:
        by_system[truncate(value.system or "")].add(truncate(value.code or ""))
    every_code = sorted(set().union(*by_system.values()))

    # a plain `code` element (Patient.gender, Observation.status) is indexed without the system its
    # binding implies: rows without a system are tested on the code alone
    def condition(table: NamedFromClause) -> ColumnElement[bool]:
        columns = table.c
        if len(by_system) == 1:
            system = next(iter(by_system))
            return and_(columns.code.in_(every_code),
                        or_(columns.system == system, columns.system.is_(None)) if system else columns.system.is_(None))
        tests = [and_(columns.system == system, columns.code.in_(sorted(codes)))
                 for system, codes in sorted(by_system.items()) if system]
        tests.append(and_(columns.system.is_(None), columns.code.in_(every_code)))
        return or_(*tests)

    return condition


def _in(predicate: Predicate, resource: FromClause) -> ColumnElement[bool]:
    param, negate = predicate.param, predicate.modifier == "not-in"
    if not resolved(predicate):
        raise NotSupported(f"the modifier ':{predicate.modifier}' needs the terminology service, which this "
                           f"search has not got (in '{param.code}:{predicate.modifier}')")
    values = [value for value in predicate.values if isinstance(value, TokenValue)]
    if not values:  # an empty value set: nothing is in it, everything is not
        return true() if negate else false()
    return matches_any(resource, "token", param.resource_type, param.code, [_code_set_condition(values)],
                       negate=negate)


def build(predicate: Predicate, resource: FromClause) -> ColumnElement[bool]:
    param, modifier = predicate.param, predicate.modifier
    if modifier in TERMINOLOGY_MODIFIERS:
        return _in(predicate, resource)
    if modifier == "text":
        conditions = [_text_condition(str(value)) for value in predicate.values]
        return matches_any(resource, "token", param.resource_type, param.code, conditions)
    conditions = [token_condition(value) for value in predicate.values if isinstance(value, TokenValue)]
    code = param.code + OF_TYPE if modifier == "of-type" else param.code
    return matches_any(resource, "token", param.resource_type, code, conditions, negate=modifier == "not")
