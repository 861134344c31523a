"""Search: the parameter registry, index extraction (write side) and query compilation (read side).

Write side, inside each write transaction::

    registry = SearchRegistry.from_definitions()      # once, at start; register() custom SearchParameters
    rows = extract(registry, resource)                # {"string": [...], "token": [...], ...}
    # each row has res_type and param; the caller adds resource_pk and inserts into
    # fhir_server.db.tables.SEARCH_INDEX_TABLES[kind] (replacing the previous version's rows)

Read side::

    query = parse_query(registry, "Observation", [("subject:Patient.name", "ann"), ("_count", "10")],
                        lenient=False)                # ParsedQuery; BadRequest on unknown / malformed
    query = parse_system_query(registry, ["Patient", "Observation"], pairs)   # GET [base]?_type=...
    query = resolve_codes(query, codes)               # :in / :not-in / :above / :below -> the codes they
                                                      # stand for, through a CodeSets port (terminology)
    matches = compile_query(query)                    # Select of resources.pk (unordered)
    page = compile_page(query, default_count=20)      # Select of (pk, sort keys...), _sort and _cursor applied
    rows = run(page.with_resources())                 # ... followed by the resource columns; then, if the
    rows += run(page.tail) if page.tail is not None and len(rows) <= page.count else []   # page is short,
    page.read(rows)                                   # the matches without a sort value -> Page(pks, next, previous)
    total = compile_total(query)                      # Select of count(*)
    compile_include(include, pks) / compile_revinclude(include, pks)   # Select of pks to include
    sql, params = Renderer(dialect)(statement)        # compiled once per statement shape

Beyond the parameters' expressions: composite parameters (indexed per element, `composites`),
`_text` / `_content` (words, `content`), `_list`, compartments (`compartments.compartment`), and
UCUM canonical quantities (`quantities`, with `terminology.ucum`).

`SearchMatcher(registry)` is the service layer's `Matcher` for conditional interactions, and
`functools.partial(extract, registry)` its `Indexer`.

Public API:

- `SearchRegistry.from_definitions(definitions=None) -> SearchRegistry`; `.register(definition) ->
  list[SearchParam]`; `.unregister(url)`; `.get(resource_type, code) -> SearchParam | None`;
  `.params_for(resource_type) -> Mapping[str, SearchParam]`
- `extract(registry, resource: dict) -> IndexRows` (`dict[str, list[dict]]`, keys `INDEX_KINDS`)
- `parse_query(registry, resource_type, pairs, *, lenient=False) -> ParsedQuery`;
  `parse_system_query(registry, types, pairs, *, lenient=False) -> ParsedQuery`
- `resolve_codes(query, codes: CodeSets | None) -> ParsedQuery` (BadRequest naming the parameter)
- `compile_query(query, *, now=None) -> Select`; `compile_total(query, *, now=None) -> Select`
- `compile_page(query, *, default_count=20, max_count=1000, now=None) -> PageQuery`
- `compile_include(include, pks) -> Select`; `compile_revinclude(include, pks) -> Select`
- `SearchMatcher(registry)`: `await matcher(conn, res_type, criteria) -> list[tuple[int, str]]`
- `normalize(text) -> str` (the string folding both sides share)
"""

from fhir_server.search.code_sets import CodeSets, resolve_codes
from fhir_server.search.extract import INDEX_KINDS, IndexRows, extract
from fhir_server.search.normalize import normalize
from fhir_server.search.params import parse_query, parse_system_query
from fhir_server.search.query import (
    Chain,
    Compartment,
    CompositeValue,
    Has,
    Include,
    ParsedQuery,
    Predicate,
    ResultParams,
    SortKey,
)
from fhir_server.search.refusals import NotSupported, UnknownParameter
from fhir_server.search.registry import SearchParam, SearchRegistry
from fhir_server.search.sql.compile import compile_query, compile_total
from fhir_server.search.sql.includes import compile_include, compile_revinclude
from fhir_server.search.sql.matcher import SearchMatcher
from fhir_server.search.sql.paging import Page, PageQuery, compile_page
from fhir_server.search.sql.render import Renderer

__all__ = [
    "SearchRegistry", "SearchParam", "extract", "IndexRows", "INDEX_KINDS", "parse_query", "parse_system_query",
    "ParsedQuery", "Predicate", "Chain", "Has", "Compartment", "CompositeValue", "SortKey", "Include",
    "ResultParams", "compile_query", "compile_total", "compile_page", "PageQuery", "Page", "Renderer",
    "compile_include", "compile_revinclude", "SearchMatcher", "normalize", "UnknownParameter", "NotSupported",
    "CodeSets", "resolve_codes",
]
