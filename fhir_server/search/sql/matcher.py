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

from sqlalchemy import Integer, Select, literal, union_all

from fhir_server.db.tables import resources
from fhir_server.search.code_sets import CodeSets, resolve_codes
from fhir_server.search.params import parse_query
from fhir_server.search.registry import SearchRegistry
from fhir_server.search.sql.compile import compile_query
from fhir_server.storage.repository import Tx

__all__ = ["SearchMatcher"]

# criteria answered by one statement at most: SQLite allows 500 terms in a compound SELECT
_PER_STATEMENT = 100


class SearchMatcher:
    def __init__(self, registry: SearchRegistry, codes: CodeSets | None = None) -> None:
        self.registry = registry
        self.codes = codes

    async def __call__(self, tx: Tx, res_type: str, criteria: Sequence[tuple[str, str]]) -> list[tuple[int, str]]:
        """(pk, id) of the current resources of `res_type` matching `criteria`, in pk order."""
        statement = self._matches(res_type, criteria).order_by(resources.c.pk)
        return [(row["pk"], row["res_id"]) for row in await tx.select(statement)]

    async def many(self, tx: Tx, wanted: Sequence[tuple[str, Sequence[tuple[str, str]]]]) -> list[list[tuple[int, str]]]:
        """`self(tx, res_type, criteria)` for each of `wanted`, as one UNION ALL statement per hundred:
        a transaction Bundle or a group of HL7 messages resolves its conditional writes in one round
        trip instead of one per entry."""
        if len(wanted) == 1:
            return [await self(tx, *wanted[0])]
        found: list[list[tuple[int, str]]] = [[] for _ in wanted]
        for start in range(0, len(wanted), _PER_STATEMENT):
            part: list[Any] = [self._matches(res_type, criteria).add_columns(literal(n, Integer).label("n"))
                               for n, (res_type, criteria) in enumerate(wanted[start:start + _PER_STATEMENT], start)]
            for row in await tx.select(union_all(*part) if len(part) > 1 else part[0]):
                found[row["n"]].append((row["pk"], row["res_id"]))
        return [sorted(matches) for matches in found]

    def _matches(self, res_type: str, criteria: Sequence[tuple[str, str]]) -> Select[Any]:
        query = resolve_codes(parse_query(self.registry, res_type, criteria), self.codes)
        return compile_query(query).add_columns(resources.c.res_id)
