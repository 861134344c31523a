"""Search: the parameter registry, index extraction (write side) and query compilation (read side).

Write side, inside each write transaction::

    registry = SearchRegistry.from_definitions()      # once, at start; register() custom SearchParameters
    rows = extract(registry, resource)                # {"string": [...], "token": [...], ...}
    # each row has res_type and param; the caller adds resource_pk and inserts into
    # fhir_server.db.tables.SEARCH_INDEX_TABLES[kind] (replacing the previous version's rows)

Read side::

    query = parse_query(registry, "Observation", [("subject:Patient.name", "ann"), ("_count", "10")],
                        lenient=False)                # ParsedQuery; BadRequest on unknown / malformed
    matches = compile_query(query)                    # Select of resources.pk (unordered)
    page = compile_page(query, default_count=20)      # Select of (pk, sort keys...), _sort and _cursor applied
    pks, next_cursor = page.page((await conn.execute(page.statement)).all())
    total = compile_total(query)                      # Select of count(*)
    compile_include(include, pks) / compile_revinclude(include, pks)   # Select of pks to include

`SearchMatcher(registry)` is the service layer's `Matcher` for conditional interactions, and
`functools.partial(extract, registry)` its `Indexer`.

Public API:

- `SearchRegistry.from_definitions(definitions=None) -> SearchRegistry`; `.register(definition) ->
  list[SearchParam]`; `.unregister(url)`; `.get(resource_type, code) -> SearchParam | None`;
  `.params_for(resource_type) -> Mapping[str, SearchParam]`
- `extract(registry, resource: dict) -> IndexRows` (`dict[str, list[dict]]`, keys `INDEX_KINDS`)
- `parse_query(registry, resource_type, pairs, *, lenient=False) -> ParsedQuery`
- `compile_query(query, *, now=None) -> Select`; `compile_total(query, *, now=None) -> Select`
- `compile_page(query, *, default_count=20, max_count=1000, now=None) -> PageQuery`
- `compile_include(include, pks) -> Select`; `compile_revinclude(include, pks) -> Select`
- `SearchMatcher(registry)`: `await matcher(conn, res_type, criteria) -> list[tuple[int, str]]`
- `normalize(text) -> str` (the string folding both sides share)
"""

from fhir_server.search.extract import INDEX_KINDS, IndexRows, extract
from fhir_server.search.normalize import normalize
from fhir_server.search.params import parse_query
from fhir_server.search.query import Chain, Has, Include, ParsedQuery, Predicate, ResultParams, SortKey
from fhir_server.search.refusals import NotSupported, UnknownParameter
from fhir_server.search.registry import SearchParam, SearchRegistry
from fhir_server.search.sql.compile import compile_query, compile_total
from fhir_server.search.sql.includes import compile_include, compile_revinclude
from fhir_server.search.sql.matcher import SearchMatcher
from fhir_server.search.sql.paging import PageQuery, compile_page

__all__ = [
    "SearchRegistry", "SearchParam", "extract", "IndexRows", "INDEX_KINDS", "parse_query", "ParsedQuery",
    "Predicate", "Chain", "Has", "SortKey", "Include", "ResultParams", "compile_query", "compile_total",
    "compile_page", "PageQuery", "compile_include", "compile_revinclude", "SearchMatcher", "normalize",
    "UnknownParameter", "NotSupported",
]
