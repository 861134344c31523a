"""`_include` and `_revinclude` as follow-up queries over a page of matches
(https://hl7.org/fhir/R4/search.html#include). Each returns the pks of current resources to add to
the Bundle as `include` entries; `:iterate` is the caller's loop over the pks these return. A source
type or parameter `*` stands for any.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, and_, false, select

from fhir_server.db.tables import resources, search_reference
from fhir_server.search.query import Include

__all__ = ["compile_include", "compile_revinclude"]


def compile_include(include: Include, pks: Sequence[int]) -> Select[Any]:
    """Resources the `pks` (of `include.source_type`) refer to through `include.param`."""
    reference = search_reference.alias()
    target = resources.alias()
    statement = (
        select(target.c.pk).distinct()
        .select_from(reference.join(target, and_(target.c.res_type == reference.c.target_type,
                                                 target.c.res_id == reference.c.target_id)))
        .where(reference.c.resource_pk.in_(list(pks)), target.c.deleted.is_(false()))
    )
    if include.source_type != "*":
        statement = statement.where(reference.c.res_type == include.source_type)
    if include.param != "*":
        statement = statement.where(reference.c.param == include.param)
    if include.target_type is not None:
        statement = statement.where(reference.c.target_type == include.target_type)
    return statement


def compile_revinclude(include: Include, pks: Sequence[int]) -> Select[Any]:
    """Resources of `include.source_type` referring to any of the `pks` through `include.param`."""
    reference = search_reference.alias()
    source = resources.alias()
    matched = resources.alias()
    statement = (
        select(source.c.pk).distinct()
        .select_from(
            reference.join(source, source.c.pk == reference.c.resource_pk)
            .join(matched, and_(matched.c.res_type == reference.c.target_type,
                                matched.c.res_id == reference.c.target_id))
        )
        .where(matched.c.pk.in_(list(pks)), source.c.deleted.is_(false()))
    )
    if include.source_type != "*":
        statement = statement.where(reference.c.res_type == include.source_type)
    if include.param != "*":
        statement = statement.where(reference.c.param == include.param)
    if include.target_type is not None:
        statement = statement.where(reference.c.target_type == include.target_type)
    return statement
