"""How big the sets of a query's chains and `_has` are, for PostgreSQL's planner.

Its statistics cannot tell: it estimates the rows a reference leads to from the whole index table
(about one per target, where a practitioner has hundreds of patients). So before compiling, the
search service counts, with one short statement each and up to a limit:

- each chain's reference rows (`compile_chain_probe`, from the chain's selective side): up to
  `FEW_CHAIN_ROWS` the chain is left to the planner, which starts from it; beyond, its targets
  are a set tested once (`compile.chain_rows`);
- each `_has`'s matching resources of the other type (`compile_has_probe`): beyond
  `MANY_HAS_SOURCES` the set of ids they refer to costs more to build than the other criteria
  usually do to check, so it is left to the planner; otherwise it is tested once.

and marks the nodes (`many`). The answers are remembered for a while: they only steer the plan,
so a stale one can cost time, never a wrong result.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Select

from fhir_server.search.query import Chain, Has, Node, ParsedQuery
from fhir_server.search.sql.compile import compile_chain_probe, compile_has_probe

__all__ = ["Sizes", "FEW_CHAIN_ROWS", "MANY_HAS_SOURCES"]

FEW_CHAIN_ROWS = 500
MANY_HAS_SOURCES = 10_000

Fetch = Callable[[Select[Any]], Awaitable[Sequence[Sequence[Any]]]]


class Sizes:
    """The answers for recently seen chains and `_has` (at most `size`, each for `seconds`)."""

    def __init__(self, *, size: int = 1024, seconds: float = 300.0) -> None:
        self.size = size
        self.seconds = seconds
        self._known: OrderedDict[Chain | Has, tuple[bool, float]] = OrderedDict()

    async def sized(self, query: ParsedQuery, fetch: Fetch) -> ParsedQuery:
        """The query with each of its chains and `_has` marked (`fetch` runs a probe statement)."""
        if not any(_unsized(node) for node in query.criteria):
            return query
        criteria = [replace(node, many=await self._many(node, fetch)) if _unsized(node) else node
                    for node in query.criteria]
        return replace(query, criteria=tuple(criteria))

    async def _many(self, node: Chain | Has, fetch: Fetch) -> bool:
        now = time.monotonic()
        known = self._known.get(node)
        if known is not None and known[1] > now:
            self._known.move_to_end(node)
            return known[0]
        if isinstance(node, Chain):
            rows = await fetch(compile_chain_probe(node, limit=FEW_CHAIN_ROWS + 1))
            many = int(rows[0][0]) > FEW_CHAIN_ROWS
        else:
            rows = await fetch(compile_has_probe(node, limit=MANY_HAS_SOURCES + 1))
            many = int(rows[0][0]) > MANY_HAS_SOURCES
        self._known[node] = (many, now + self.seconds)
        self._known.move_to_end(node)
        if len(self._known) > self.size:
            self._known.popitem(last=False)
        return many


def _unsized(node: Node) -> bool:
    return isinstance(node, Chain | Has) and node.many is None
