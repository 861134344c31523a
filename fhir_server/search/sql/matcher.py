"""Finding the matches of conditional create / update / patch / delete criteria
(`Patient?identifier=http://hospital/mrn|123`, https://hl7.org/fhir/R4/http.html#cond-update).

A `SearchMatcher` is the service layer's `Matcher`: it parses the criteria strictly (an unknown
parameter must not silently widen a conditional write) and returns (pk, id) of every match. Given
the terminology (`codes`, settable once the terminology service exists), `:in`, `:not-in`,
`:above` and `:below` work here as in searches; without it they are refused.
"""

from __future__ import annotations

from collections.abc import Sequence

from fhir_server.db.tables import resources
from fhir_server.search.code_sets import CodeSets, resolve_codes
from fhir_server.search.params import parse_query
from fhir_server.search.registry import SearchRegistry
from fhir_server.search.sql.compile import compile_query
from fhir_server.storage.repository import Tx

__all__ = ["SearchMatcher"]


class SearchMatcher:
    def __init__(self, registry: SearchRegistry, codes: CodeSets | None = None) -> None:
        self.registry = registry
        self.codes = codes

    async def __call__(self, tx: Tx, res_type: str, criteria: Sequence[tuple[str, str]]) -> list[tuple[int, str]]:
        """(pk, id) of the current resources of `res_type` matching `criteria`, in pk order."""
        query = resolve_codes(parse_query(self.registry, res_type, criteria), self.codes)
        statement = compile_query(query).add_columns(resources.c.res_id).order_by(resources.c.pk)
        return [(row["pk"], row["res_id"]) for row in await tx.select(statement)]
