"""The search interaction: type, compartment and system level (https://hl7.org/fhir/R4/search.html).

    GET [base]/Observation?code=...            SearchRequest("Observation", params)
    GET [base]/Patient/123/Observation?...     SearchRequest("Observation", params, compartment=("Patient", "123"))
    GET [base]/Patient/123/*?...               SearchRequest(None, params, compartment=("Patient", "123"))
    GET [base]?_type=Patient,Observation&...   SearchRequest(None, params)

The query is parsed (400 on anything unknown or malformed, or skipped and reported under
`Prefer: handling=lenient`) and compiled to one SQL statement that returns the page's resources
(one round trip; with `_include`s or a count, those run in the same read transaction), and the
stored bytes are returned in a `searchset` Bundle.

Paging is by stateless keyset cursors (`_cursor`) in the `next` / `previous` links, so pages stay
stable while resources are written. `_total`: `accurate` counts, `estimate` takes PostgreSQL's
planner estimate (a count on SQLite), `none` omits it; by default the total is given when it is
known for free (the whole result fits on the first page) and omitted otherwise, so large searches
never pay for a count nobody asked for. `_count=0` and `_summary=count` return the accurate total only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import orjson
from sqlalchemy import false, select

from fhir_server.context import RequestContext
from fhir_server.db.tables import resources
from fhir_server.errors import BadRequest, Forbidden, Issue
from fhir_server.search import Include, ParsedQuery, SearchRegistry, parse_query
from fhir_server.search.code_sets import CodeSets, resolve_codes
from fhir_server.search.compartments import compartment
from fhir_server.search.params import parse_system_query
from fhir_server.search.query import AccessLimit, Node
from fhir_server.search.refusals import NotSupported
from fhir_server.search.sql.compile import compile_query, compile_total
from fhir_server.search.sql.includes import compile_include, compile_revinclude
from fhir_server.search.sql.paging import Page, compile_page
from fhir_server.search.sql.render import Renderer
from fhir_server.search.sql.sizes import Sizes
from fhir_server.services.access import AccessGuard, fail_closed_guard, patients_in
from fhir_server.services.resources import require_type
from fhir_server.services.search_bundle import Links, page_url, searchset, shaping
from fhir_server.services.search_parameters import SearchParameters
from fhir_server.storage.driver import Driver
from fhir_server.storage.repository import CurrentRow, ResourceStore
from resources import RESOURCE_TYPES, fhir_json

__all__ = ["SearchService", "SearchRequest"]


def _patients(row: CurrentRow) -> list[str]:
    return patients_in(row.res_type, row.res_id, row.body)

# how many rounds of `_include:iterate` / `_revinclude:iterate` follow, and how many resources at most
ITERATE_ROUNDS = 4
MAX_INCLUDED = 1000


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """`res_type` None: a system search (or `Patient/123/*`). `params` are the decoded query pairs
    (URL and form body merged), as the client wrote them."""

    res_type: str | None
    params: Sequence[tuple[str, str]]
    compartment: tuple[str, str] | None = None
    lenient: bool = False


class SearchService:
    def __init__(self, *, store: ResourceStore, registry: SearchRegistry, parameters: SearchParameters | None = None,
                 default_count: int = 20, max_count: int = 1000, access: AccessGuard | None = None,
                 codes: CodeSets | None = None) -> None:
        self.store = store
        self.codes = codes  # the terminology behind `:in`, `:not-in`, `:above`, `:below`
        self.access = access or fail_closed_guard()
        self.registry = registry
        self.parameters = parameters
        self.default_count = default_count
        self.max_count = max_count
        self.render = Renderer(store.engine.dialect)
        self.sizes = Sizes()

    # -- parsing ---------------------------------------------------------------------------------

    def parse(self, request: SearchRequest) -> ParsedQuery:
        """The request as a parsed query: of one type, of a compartment's members, or of several types;
        value sets and code hierarchies already turned into the codes they stand for."""
        return resolve_codes(self._parse(request), self.codes)

    def _parse(self, request: SearchRequest) -> ParsedQuery:
        if request.res_type is not None:
            require_type(request.res_type)
        if request.compartment is not None:
            require_type(request.compartment[0])
        if request.res_type is not None:  # `_type` here is refused (or ignored, if lenient) by the parser
            query = parse_query(self.registry, request.res_type, request.params, lenient=request.lenient)
            if request.compartment is None:
                return query
            member = compartment(self.registry, *request.compartment, [request.res_type])
            return replace(query, criteria=(*query.criteria, member))
        pairs = [(name, value) for name, value in request.params if name != "_type"]
        chosen = [item.strip() for name, value in request.params if name == "_type"
                  for item in value.split(",") if item.strip()]
        if request.compartment is None:
            return parse_system_query(self.registry, chosen, pairs, lenient=request.lenient)
        member = compartment(self.registry, *request.compartment, chosen or None)
        query = parse_system_query(self.registry, [res_type for res_type, _ in member.members], pairs,
                                   lenient=request.lenient)
        return replace(query, criteria=(*query.criteria, member))

    # -- the interaction -------------------------------------------------------------------------

    async def search(self, ctx: RequestContext, request: SearchRequest) -> bytes:
        """The searchset Bundle, as JSON bytes."""
        if self.parameters is not None:
            await self.parameters.refresh()
        query = await self._limited(ctx, self.parse(request))
        result = query.result
        if result.contained in ("true", "both"):
            raise NotSupported("searching contained resources (_contained) is not supported")
        if result.summary and result.elements:
            raise BadRequest("_summary and _elements cannot be used together")
        count_only = result.summary == "count" or result.count == 0
        path = self._path(request)
        used = [(name, value) for name, value in request.params if name not in query.ignored]
        issues = [Issue("not-supported", f"the parameter '{name}' was ignored: unknown or not supported here",
                        severity="warning") for name in query.ignored]
        if count_only:
            async with self._connection(consistent=False) as db:
                total = await self._count(db, await self.sized(db, query))
            self.access.read(ctx, "search-type" if query.types is None else "search-system", request.res_type,
                             query=page_url(ctx, path, used, None))
            return searchset(ctx, matches=[], included=[], total=total, links=Links(page_url(ctx, path, used, None)),
                             shape=None, issues=issues)
        # one statement is its own snapshot; includes and counts read in one transaction with the page
        consistent = bool(result.include or result.revinclude) or result.total in ("accurate", "estimate")
        async with self._connection(consistent=consistent) as db:
            query = await self.sized(db, query)
            page_query = compile_page(query, default_count=self.default_count, max_count=self.max_count)
            rows = await self._fetch(db, page_query.with_resources())
            if page_query.tail is not None and len(rows) <= page_query.count:
                rows += await self._fetch(db, page_query.with_resources(page_query.tail))
            page = page_query.read(rows)
            width = 1 + len(page_query.keys)
            matches = [self._row(row[0], *row[width:]) for row in rows[:len(page.pks)]]
            if page_query.backward:
                matches.reverse()
            included, truncated = await self._included(db, query, matches)
            total = await self._total(db, query, page, len(matches))
        if truncated:
            issues.append(Issue("too-costly", f"only the first {MAX_INCLUDED} included resources are returned",
                                severity="warning"))
        if not ctx.principal.unrestricted:
            included = [row for row in included if await self._visible(ctx, row)]
        self.access.read(ctx, "search-type" if query.types is None else "search-system", request.res_type,
                         query=page_url(ctx, path, used, result.cursor),
                         patients=[p for row in matches for p in _patients(row)])
        links = Links(page_url(ctx, path, used, result.cursor),
                      page_url(ctx, path, used, page.next) if page.next else None,
                      page_url(ctx, path, used, page.previous) if page.previous else None)
        return searchset(ctx, matches=matches, included=included, total=total, links=links,
                         shape=shaping(result.summary, result.elements), issues=issues)

    # -- access control ----------------------------------------------------------------------------

    async def _limited(self, ctx: RequestContext, query: ParsedQuery) -> ParsedQuery:
        """The query narrowed to what the caller's token may see (unchanged when nothing narrows it).
        A system search leaves out the types the token may not search; a type search of such a type
        is refused."""
        if ctx.principal.unrestricted:
            return query
        system = query.types is not None
        types = [query.resource_type] if not system else list(query.types or sorted(RESOURCE_TYPES))
        limits = await self.access.search_limits(ctx, types, skip_refused=system)
        if system and not limits:
            exc = Forbidden("the token's scopes allow searching none of the types asked for")
            self.access.deny(ctx, "search-system", None, exc)
            raise exc
        if all(alternatives is None for alternatives in limits.values()) and len(limits) == len(types):
            return query
        per_type = []
        for res_type, alternatives in limits.items():
            if alternatives is None:
                per_type.append((res_type, ((),)))
            else:
                per_type.append((res_type, tuple(self._criteria(res_type, criteria) for criteria in alternatives)))
        return replace(query, criteria=(*query.criteria, AccessLimit(tuple(per_type))))

    def _criteria(self, res_type: str, criteria: Sequence[tuple[str, str]]) -> tuple[Node, ...]:
        return parse_query(self.registry, res_type, list(criteria)).criteria if criteria else ()

    async def _visible(self, ctx: RequestContext, row: CurrentRow) -> bool:
        """Whether an `_include`d resource is within what the caller's token allows (left out if not)."""
        if row.body is None:
            return False
        try:
            await self.access.policy.check_resource(ctx.principal, "read", fhir_json.loads(row.body))
        except Forbidden:
            return False
        return True

    @staticmethod
    def _path(request: SearchRequest) -> str:
        if request.compartment is not None:
            return f"{request.compartment[0]}/{request.compartment[1]}/{request.res_type or '*'}"
        return request.res_type or ""

    # -- running statements ------------------------------------------------------------------------

    @asynccontextmanager
    async def _connection(self, *, consistent: bool) -> AsyncIterator[Driver]:
        """A read transaction when several statements must see one snapshot, else a bare connection."""
        if consistent:
            async with self.store.read() as tx:
                yield tx.db
        else:
            async with self.store.single() as db:
                yield db

    async def _fetch(self, db: Driver, statement: Any) -> list[Sequence[Any]]:
        sql, params = self.render(statement)
        return await db.fetch(sql, *params)

    def _row(self, pk: int, res_type: str, res_id: str, version_id: int, last_updated: int,
             body: bytes | None) -> CurrentRow:
        return CurrentRow(pk, res_type, res_id, version_id, last_updated, False,
                          self.store.open(res_type, res_id, version_id, body))

    async def _resources(self, db: Driver, pks: Any) -> list[CurrentRow]:
        """The current resources whose pks the statement `pks` selects, in pk order."""
        statement = (select(resources.c.pk, resources.c.res_type, resources.c.res_id, resources.c.version_id,
                            resources.c.last_updated, resources.c.body)
                     .where(resources.c.pk.in_(pks), resources.c.deleted.is_(false())).order_by(resources.c.pk))
        return [self._row(*row) for row in await self._fetch(db, statement)]

    async def sized(self, db: Driver, query: ParsedQuery) -> ParsedQuery:
        """The query with its chains and `_has` marked as leading to small sets or large (`sql.sizes`),
        which PostgreSQL plans differently; SQLite plans both well unaided."""
        if self.store.is_sqlite:
            return query
        return await self.sizes.sized(query, lambda statement: self._fetch(db, statement))

    # -- totals ----------------------------------------------------------------------------------

    async def _count(self, db: Driver, query: ParsedQuery) -> int:
        rows = await self._fetch(db, compile_total(query))
        return int(rows[0][0])

    async def _estimate(self, db: Driver, query: ParsedQuery) -> int:
        if self.store.is_sqlite:
            return await self._count(db, query)
        sql, params = self.render(compile_query(query))
        plan = await db.fetchval("EXPLAIN (FORMAT JSON) " + sql, *params)
        parsed = orjson.loads(plan) if isinstance(plan, str | bytes) else plan
        return int(parsed[0]["Plan"]["Plan Rows"])

    async def _total(self, db: Driver, query: ParsedQuery, page: Page, found: int) -> int | None:
        mode = query.result.total
        if mode == "none":
            return None
        if mode == "accurate":
            return await self._count(db, query)
        if mode == "estimate":
            if page.next is None and page.previous is None and not query.result.cursor:
                return found
            return await self._estimate(db, query)
        if page.next is None and not query.result.cursor:
            return found  # the whole result is on this first page
        return None

    # -- _include and _revinclude ------------------------------------------------------------------

    async def _included(self, db: Driver, query: ParsedQuery, matches: list[CurrentRow]) -> tuple[list[CurrentRow], bool]:
        result = query.result
        if not (result.include or result.revinclude) or not matches:
            return [], False
        seen = {row.pk for row in matches}
        included: list[CurrentRow] = []
        truncated = False

        async def follow(includes: Sequence[tuple[bool, Include]], rows: list[CurrentRow]) -> list[CurrentRow]:
            nonlocal truncated
            added: list[CurrentRow] = []
            for reverse, include in includes:
                if reverse:
                    targets: dict[str, list[str]] = {}
                    for row in rows:
                        targets.setdefault(row.res_type, []).append(row.res_id)
                    statement = compile_revinclude(include, targets, self.registry)
                else:
                    sources = [row.pk for row in rows if include.source_type in ("*", row.res_type)]
                    if not sources:
                        continue
                    statement = compile_include(include, sources)
                new = [row for row in await self._resources(db, statement) if row.pk not in seen]
                room = MAX_INCLUDED - len(included) - len(added)
                if len(new) > room:
                    new, truncated = new[:max(room, 0)], True
                seen.update(row.pk for row in new)
                added.extend(new)
            return added

        first = [(False, item) for item in result.include] + [(True, item) for item in result.revinclude]
        added = await follow(first, matches)
        included.extend(added)
        iterating = [(False, item) for item in result.include if item.iterate] + \
                    [(True, item) for item in result.revinclude if item.iterate]
        for _ in range(ITERATE_ROUNDS):
            if not iterating or not added or truncated:
                break
            added = await follow(iterating, added)
            included.extend(added)
        return included, truncated

    # -- $reindex --------------------------------------------------------------------------------

    async def reindex(self, ctx: RequestContext, res_type: str | None) -> int | None:
        """Queue the rewriting of the index rows of every resource of `res_type` (None: all types)."""
        if res_type is not None:
            require_type(res_type)
        if self.parameters is None:
            raise NotSupported("reindexing is not available in this process")
        return await self.parameters.start_reindex(None if res_type is None else [res_type])
