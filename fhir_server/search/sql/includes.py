"""`_include` and `_revinclude` as follow-up queries over a page of matches
(https://hl7.org/fhir/R4/search.html#include). Each returns the pks of current resources to add to
the Bundle as `include` entries; `:iterate` is the caller's loop over the pks these return. A source
type or parameter `*` stands for any.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Select, and_, false, or_, select

from fhir_server.db.tables import resources, search_reference
from fhir_server.search.query import Include
from fhir_server.search.registry import SearchRegistry

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


def compile_revinclude(include: Include, targets: Mapping[str, Sequence[str]],
                       registry: SearchRegistry | None = None) -> Select[Any]:
    """Resources of `include.source_type` referring through `include.param` to any of `targets` (ids
    by type: the page's resources). A `*` (source type or parameter) reads the (type, parameters)
    pairs that can point at a target type (`SearchRegistry.referring`): every lookup then starts with
    a type and a parameter, as the reference index does."""
    reference = search_reference.alias()
    source = resources.alias()
    wildcard = "*" in (include.source_type, include.param)
    if wildcard and registry is None:
        raise ValueError(f"_revinclude={include.source_type}:{include.param} needs the registry's reference parameters")
    branches = []
    for target_type, ids in targets.items():
        if include.target_type is not None and target_type != include.target_type:
            continue
        branch = [reference.c.target_type == target_type, reference.c.target_id.in_(list(ids))]
        if not wildcard:
            branch += [reference.c.res_type == include.source_type, reference.c.param == include.param]
        else:
            pairs = [and_(reference.c.res_type == res_type, reference.c.param.in_(codes))
                     for res_type, codes in registry.referring(target_type)  # type: ignore[union-attr]
                     if include.source_type in ("*", res_type)]
            if not pairs:
                continue
            branch.append(or_(*pairs))
        branches.append(and_(*branch))
    return (select(source.c.pk).distinct()
            .select_from(reference.join(source, source.c.pk == reference.c.resource_pk))
            .where(or_(*branches) if branches else false(), source.c.deleted.is_(false())))
