"""The parameters without an expression: `_text`, `_content` (word search) and `_list`.

`_text` / `_content` (https://hl7.org/fhir/R4/search.html#content): every word of a value must start
a word of the resource's `search_text` row for the code (see `fhir_server.search.content`); commas
OR whole values.
`_list=id` (https://hl7.org/fhir/R4/search.html#list): resources that `List/id` holds as an
`entry.item`, through the List's `item` reference rows.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, FromClause, false, or_, select, tuple_

from fhir_server.db.tables import resources, search_reference
from fhir_server.search.normalize import normalize, truncate
from fhir_server.search.query import Predicate
from fhir_server.search.sql.dialect import word_prefixes
from fhir_server.search.sql.index import matches_any

__all__ = ["build_text", "build_list"]


def build_text(predicate: Predicate, resource: FromClause) -> ColumnElement[bool]:
    param = predicate.param
    alternatives: list[ColumnElement[bool]] = []
    for value in predicate.values:
        words = [truncate(word) for word in normalize(str(value)).split()]
        if not words:
            continue
        alternatives.append(matches_any(resource, "text", param.resource_type, param.code,
                                        [lambda table, words=words: word_prefixes.of(table.c.words, words)]))
    return or_(*alternatives) if alternatives else false()


def build_list(predicate: Predicate, resource: FromClause) -> ColumnElement[bool]:
    item = search_reference.alias()
    holder = resources.alias()
    ids = [str(value) for value in predicate.values]
    rows = (
        select(item.c.target_type, item.c.target_id)
        .select_from(item.join(holder, holder.c.pk == item.c.resource_pk))
        .where(holder.c.res_type == "List", holder.c.res_id.in_(ids), holder.c.deleted.is_(false()),
               item.c.res_type == "List", item.c.param == "item")
    )
    if predicate.param.resource_type:
        return resource.c.res_id.in_(
            rows.with_only_columns(item.c.target_id).where(item.c.target_type == predicate.param.resource_type))
    return tuple_(resource.c.res_type, resource.c.res_id).in_(rows)
