"""Finding the matches of conditional create / update / patch / delete criteria
(`Patient?identifier=http://hospital/mrn|123`, https://hl7.org/fhir/R4/http.html#cond-update).

A `SearchMatcher` is the service layer's `Matcher`: it parses the criteria strictly (an unknown
parameter must not silently widen a conditional write) and returns (pk, id) of every match. Given
the terminology (`codes`, settable once the terminology service exists), `:in`, `:not-in`,
`:above` and `:below` work here as in searches; without it they are refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Integer, literal, union_all

from fhir_server.db.tables import resources
from fhir_server.errors import FhirError
from fhir_server.search.code_sets import CodeSets, resolve_codes
from fhir_server.search.normalize import truncate
from fhir_server.search.params import parse_query
from fhir_server.search.query import ParsedQuery
from fhir_server.search.registry import SearchRegistry
from fhir_server.search.sql.compile import compile_query
from fhir_server.search.sql.identifier_lookup import LOOKUP_PG, LookupKey, lookup_key, lookup_params
from fhir_server.search.sql.match_templates import MatchTemplates, Template
from fhir_server.storage.repository import Tx

__all__ = ["SearchMatcher"]

# a value of the shape `_plain_lookup` reads: found as it is, the parameter reads values as they are
_PROBE = "Probe.System:1|Probe-Code.2"
# criteria answered by one statement at most: SQLite allows 500 terms in a compound SELECT
_PER_STATEMENT = 100


class SearchMatcher:
    def __init__(self, registry: SearchRegistry, codes: CodeSets | None = None) -> None:
        self.registry = registry
        self.codes = codes
        self.templates = MatchTemplates()
        # (registry generation, type, name) -> the token parameter `name=system|code` looks up, or None
        self._lookup_params: dict[tuple[int, str, str], str | None] = {}

    async def __call__(self, tx: Tx, res_type: str, criteria: Sequence[tuple[str, str]]) -> list[tuple[int, str]]:
        """(pk, id) of the current resources of `res_type` matching `criteria`, in pk order."""
        return (await self.many(tx, [(res_type, criteria)]))[0]

    async def many(self, tx: Tx, wanted: Sequence[tuple[str, Sequence[tuple[str, str]]]]) -> list[list[tuple[int, str]]]:
        """`self(tx, res_type, criteria)` for each of `wanted`, as one UNION ALL statement per hundred:
        a transaction Bundle or a group of HL7 messages resolves its conditional writes in one round
        trip instead of one per entry. On PostgreSQL, `param=system|code` criteria go together as
        arrays (`identifier_lookup`); criteria of a templated shape (`match_templates`) are rendered
        from their template, the others compiled (each kind in a statement of its own)."""
        found: list[list[tuple[int, str]]] = [[] for _ in wanted]
        looked_up: list[tuple[int, LookupKey]] = []
        templated: list[tuple[int, ParsedQuery, Template]] = []
        compiled: list[tuple[int, ParsedQuery]] = []
        by_lookup = tx.dialect.name == "postgresql" and len(wanted) > 1
        for n, (res_type, criteria) in enumerate(wanted):
            key = self._plain_lookup(res_type, criteria) if by_lookup else None
            if key is not None:
                looked_up.append((n, key))
                continue
            query = resolve_codes(parse_query(self.registry, res_type, criteria), self.codes)
            key = lookup_key(query) if by_lookup else None
            if key is not None:
                looked_up.append((n, key))
                continue
            template = self.templates.find(tx.dialect, query)
            if template is None:
                compiled.append((n, query))
            else:
                templated.append((n, query, template))
        if looked_up:  # one equality join whatever the values: within a write, on its cached generic plan
            for pk, res_id, n in await tx.select_sql(LOOKUP_PG, lookup_params(looked_up), any_plan=True):
                found[n].append((pk, res_id))
        for start in range(0, len(templated), _PER_STATEMENT):
            for pk, res_id, n in await tx.select_sql(*_union(templated[start:start + _PER_STATEMENT])):
                found[n].append((pk, res_id))
        for start in range(0, len(compiled), _PER_STATEMENT):
            part: list[Any] = [compile_query(query).add_columns(resources.c.res_id, literal(n, Integer).label("n"))
                               for n, query in compiled[start:start + _PER_STATEMENT]]
            for row in await tx.select(union_all(*part) if len(part) > 1 else part[0]):
                found[row["n"]].append((row["pk"], row["res_id"]))
        return [sorted(matches) for matches in found]

    def _plain_lookup(self, res_type: str, criteria: Sequence[tuple[str, str]]) -> LookupKey | None:
        """The lookup key of a lone `name=system|code` whose value needs no unescaping, without parsing
        the criteria: whether `name` is a token parameter that `lookup_key` looks up is learnt once
        per registry generation, by parsing a value of that shape (the commonest criteria of a feed,
        a business identifier, are then read in a few string operations)."""
        if len(criteria) != 1:
            return None
        name, value = criteria[0]
        system, _, code = value.partition("|")
        if not (system and code) or "|" in code or "\\" in value or "," in value or value != value.strip():
            return None
        known = (self.registry.generation, res_type, name)
        if known not in self._lookup_params:
            try:
                probe = lookup_key(resolve_codes(parse_query(self.registry, res_type, [(name, _PROBE)]), self.codes))
            except FhirError:
                probe = None  # the real criteria raise it again through the full parse
            self._lookup_params[known] = None if probe is None or probe[2:] != tuple(_PROBE.split("|")) else probe[1]
        param = self._lookup_params[known]
        return None if param is None else (res_type, param, truncate(system), truncate(code))


def _union(templated: Sequence[tuple[int, ParsedQuery, Template]]) -> tuple[str, list[Any]]:
    """The templated matches as one UNION ALL, each part's placeholders following the last's."""
    sql: list[str] = []
    params: list[Any] = []
    for n, query, template in templated:
        text, values = template.render(query, n, len(params))
        sql.append(text)
        params.extend(values)
    return " UNION ALL ".join(sql), params
