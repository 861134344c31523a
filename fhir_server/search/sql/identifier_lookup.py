"""Many `Type?param=system|code` matches in one small statement, on PostgreSQL.

A feed's conditional writes name their resources by business identifier, a token with its system
(`Patient?identifier=http://hospital/mrn|123`). Asked one part of a UNION per criterion, PostgreSQL
plans every part afresh, and with the extended statistics of the token index (migration 0002)
planning a group of HL7 messages' forty criteria took 13 ms, more than running them. Here the
criteria travel as arrays and one statement joins them to the token index: its text never changes,
so within a write transaction it runs on the generic plan cached for it, planned once per connection.

The match is the compiler's: current resources of the type, not deleted, with a token row of the
parameter whose system and code are the value's (both truncated as they were indexed).
"""

from __future__ import annotations

from collections.abc import Sequence

from fhir_server.search.normalize import truncate
from fhir_server.search.query import ParsedQuery, TokenValue
from fhir_server.search.sql.match_templates import token_predicates

__all__ = ["LookupKey", "lookup_key", "lookup_params", "LOOKUP_PG"]

# (resource type, parameter, system, code)
LookupKey = tuple[str, str, str, str]

# Each criterion reads its token rows, then each row's resource by its key (`OFFSET 0` keeps that
# subquery a probe per row): the generic plan, made once, may have been made while the tables were
# small, and a join left to it then reads every resource of the type into a hash, at any size.
LOOKUP_PG = (
    "SELECT r.pk, r.res_id, v.n "
    "FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int4[]) AS v(res_type, param, system, code, n) "
    "JOIN LATERAL (SELECT DISTINCT t.resource_pk FROM search_token AS t WHERE t.res_type = v.res_type "
    "AND t.param = v.param AND t.code = v.code AND t.system = v.system) AS m ON true "
    "JOIN LATERAL (SELECT r.pk, r.res_id FROM resources AS r WHERE r.pk = m.resource_pk AND r.res_type = v.res_type "
    "AND r.deleted IS false OFFSET 0) AS r ON true"
)


def lookup_key(query: ParsedQuery) -> LookupKey | None:
    """The key of a query that is one `param=system|code` token predicate (no modifier), else None."""
    predicates = token_predicates(query)
    if predicates is None or len(predicates) != 1 or len(predicates[0].values) != 1:
        return None
    (value,) = predicates[0].values
    if not (isinstance(value, TokenValue) and value.system and value.code is not None):
        return None
    return query.resource_type, predicates[0].param.code, truncate(value.system), truncate(value.code)


def lookup_params(keys: Sequence[tuple[int, LookupKey]]) -> list[list[object]]:
    """`LOOKUP_PG`'s five arrays for (row number, key) pairs."""
    return [[key[0] for _, key in keys], [key[1] for _, key in keys], [key[2] for _, key in keys],
            [key[3] for _, key in keys], [n for n, _ in keys]]
