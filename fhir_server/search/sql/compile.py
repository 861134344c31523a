"""A parsed query → one SQLAlchemy `Select` of the `resources.pk` of the matching current resources.

    SELECT resources.pk FROM resources
    WHERE res_type = :type AND deleted IS false
      AND resources.pk IN (SELECT resource_pk FROM search_token WHERE res_type=… AND param=… AND (…))
      AND …                                             -- one conjunct per repeated parameter

Chains (`subject:Patient.name=x`) select the referring index rows whose target resource matches
the inner criterion, joined on (target_type, target_id) = (res_type, res_id); `_has` selects the
ids referred to by matching resources of the other type. Both nest to any depth, each level on
fresh aliases. https://hl7.org/fhir/R4/search.html#chaining
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, FromClause, Select, and_, false, func, or_, select

from fhir_server.db.tables import resources, search_reference
from fhir_server.search.query import Chain, Has, Node, ParsedQuery, Predicate
from fhir_server.search.sql import (
    dates,
    numbers,
    quantities,
    references,
    resource_columns,
    strings,
    tokens,
    uris,
)
from fhir_server.search.sql.index import has_rows

__all__ = ["compile_query", "compile_total", "criterion"]

_BUILDERS = {
    "string": strings.build,
    "token": tokens.build,
    "number": numbers.build,
    "quantity": quantities.build,
    "reference": references.build,
    "uri": uris.build,
}


def _predicate(predicate: Predicate, resource: FromClause, now: int | None) -> ColumnElement[bool]:
    param = predicate.param
    if param.on_resource_table:
        return resource_columns.build(predicate, resource, now)
    if predicate.modifier == "missing":
        return has_rows(resource, param.type, param.resource_type, param.code, present=predicate.values[0] is False)
    if param.type == "date":
        return dates.build(predicate, resource, now)
    return _BUILDERS[param.type](predicate, resource)


def _chain(chain: Chain, resource: FromClause, now: int | None) -> ColumnElement[bool]:
    param = chain.param
    alternatives: list[ColumnElement[bool]] = []
    for target_type, inner in chain.targets:
        reference = search_reference.alias()
        target = resources.alias()
        rows = (
            select(reference.c.resource_pk)
            .select_from(reference.join(target, and_(target.c.res_type == reference.c.target_type,
                                                     target.c.res_id == reference.c.target_id)))
            .where(reference.c.res_type == param.resource_type, reference.c.param == param.code,
                   reference.c.target_type == target_type, target.c.deleted.is_(false()),
                   criterion(inner, target, target_type, now))
        )
        alternatives.append(resource.c.pk.in_(rows))
    return or_(*alternatives)


def _has(has: Has, resource: FromClause, resource_type: str, now: int | None) -> ColumnElement[bool]:
    reference = search_reference.alias()
    source = resources.alias()
    referred = (
        select(reference.c.target_id)
        .select_from(reference.join(source, source.c.pk == reference.c.resource_pk))
        .where(reference.c.res_type == has.resource_type, reference.c.param == has.reference.code,
               reference.c.target_type == resource_type, source.c.deleted.is_(false()),
               criterion(has.inner, source, has.resource_type, now))
    )
    return resource.c.res_id.in_(referred)


def criterion(node: Node, resource: FromClause, resource_type: str, now: int | None = None) -> ColumnElement[bool]:
    """The SQL condition for one query node on `resource` (the resources table or an alias of it),
    whose rows are of `resource_type`."""
    if isinstance(node, Predicate):
        return _predicate(node, resource, now)
    if isinstance(node, Chain):
        return _chain(node, resource, now)
    return _has(node, resource, resource_type, now)


def compile_query(query: ParsedQuery, *, now: int | None = None) -> Select[Any]:
    """`SELECT pk` of the current, not deleted resources matching every criterion (unordered).

    `now` (epoch microseconds) anchors the `ap` date prefix; the clock by default.
    """
    return select(resources.c.pk).where(
        resources.c.res_type == query.resource_type,
        resources.c.deleted.is_(false()),
        *(criterion(node, resources, query.resource_type, now) for node in query.criteria),
    )


def compile_total(query: ParsedQuery, *, now: int | None = None) -> Select[Any]:
    """`SELECT count(*)` of the matches, for `_total=accurate` and `_summary=count`."""
    return select(func.count()).select_from(compile_query(query, now=now).subquery())
