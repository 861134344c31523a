"""_sort, _count and the keyset cursor, _total, includes and the conditional-write matcher."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select

from fhir_server.db.tables import SEARCH_INDEX_TABLES
from fhir_server.errors import BadRequest
from fhir_server.search import (
    SearchMatcher,
    compile_include,
    compile_page,
    compile_query,
    compile_revinclude,
    compile_total,
    parse_query,
)
from fhir_server.search.dates import parse_date_range
from fhir_server.search.query import ParsedQuery
from fhir_server.storage.driver import driver_for
from fhir_server.storage.repository import Tx
from tests.fhir_server.search.sql.store import Store

pytestmark = pytest.mark.asyncio(loop_scope="module")


def query(store: Store, resource_type: str, *pairs: tuple[str, str]) -> ParsedQuery:
    return parse_query(store.registry, resource_type, list(pairs))


async def rows_of(conn, page):  # noqa: ANN001, ANN201 - a connection and a PageQuery
    """The rows of a page: its statement's, then its tail's when those did not fill it."""
    rows = list((await conn.execute(page.statement)).all())
    if page.tail is not None and len(rows) <= page.count:
        rows += (await conn.execute(page.tail)).all()
    return rows


async def all_pages(store: Store, resource_type: str, *pairs: tuple[str, str], count: int) -> tuple[list[str], int]:
    """Every result, page by page following the cursors; and how many pages it took."""
    found: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        extra = [("_cursor", cursor)] if cursor else []
        page = compile_page(query(store, resource_type, *pairs, ("_count", str(count)), *extra))
        async with store.engine.connect() as conn:
            rows = await rows_of(conn, page)
        pks, cursor = page.page(rows)
        found.extend(store.ordered(pks))
        pages += 1
        if cursor is None:
            return found, pages
        assert pages < 20


SORTS = [
    ("Patient", "birthdate", ["p1", "p2", "p3"]),
    ("Patient", "-birthdate", ["p3", "p2", "p1"]),
    ("Patient", "family", ["p3", "p1", "p2"]),  # martin duval, muller, obrien
    ("Patient", "-family", ["p2", "p1", "p3"]),
    ("Patient", "_id", ["p1", "p2", "p3"]),
    ("Patient", "-_id", ["p3", "p2", "p1"]),
    ("Patient", "-_lastUpdated", ["p3", "p2", "p1"]),
    ("Patient", "gender,-birthdate", ["p3", "p1", "p2"]),
    ("Observation", "-date,_id", ["o3", "o5", "o1", "o2", "o4", "o6"]),  # no date: last
    ("Observation", "date", ["o4", "o2", "o5", "o1", "o3", "o6"]),  # by start
    ("Observation", "value-quantity", ["o2", "o5", "o1", "o3", "o4", "o6"]),  # 100 lb < 72.5 kg: canonical units
    ("Observation", "-value-quantity", ["o3", "o1", "o5", "o2", "o4", "o6"]),
    ("Observation", "status,-date", ["o4", "o5", "o1", "o2", "o6", "o3"]),
    ("Observation", "code", ["o1", "o3", "o5", "o6", "o2", "o4"]),  # ties broken by pk
    ("Observation", "_profile", ["o1", "o3", "o2", "o4", "o5", "o6"]),
    ("RiskAssessment", "-probability", ["r2", "r1"]),
    ("Practitioner", "_id", ["Dr2", "dr1", "dr3"]),  # byte order on both databases
    ("Practitioner", "identifier", ["Dr2", "dr3", "dr1"]),
    ("Practitioner", "-identifier", ["dr3", "Dr2", "dr1"]),
]


@pytest.mark.parametrize(("resource_type", "sort", "expected"), SORTS, ids=[f"{t}-{s}" for t, s, _ in SORTS])
async def test_sort_in_one_page(store: Store, resource_type: str, sort: str, expected: list[str]) -> None:
    found, pages = await all_pages(store, resource_type, ("_sort", sort), count=50)
    assert (found, pages) == (expected, 1)


@pytest.mark.parametrize(("resource_type", "sort", "expected"), SORTS, ids=[f"{t}-{s}" for t, s, _ in SORTS])
@pytest.mark.parametrize("count", [1, 2, 4])
async def test_cursor_pages_reproduce_the_order(store: Store, resource_type: str, sort: str, expected: list[str],
                                                count: int) -> None:
    found, pages = await all_pages(store, resource_type, ("_sort", sort), count=count)
    assert found == expected
    assert pages == -(-len(expected) // count)  # a full last page knows there is no next one


@pytest.mark.parametrize("sort", ["family", "-family"])
async def test_a_resource_with_the_same_value_in_several_rows_is_sorted_once(store: Store, sort: str) -> None:
    """Two index rows of one resource holding its best value alike are told apart by where they are
    stored (the index tables have no key of their own)."""
    strings = SEARCH_INDEX_TABLES["string"]
    p1 = next(pk for pk, name in store.names.items() if name == "Patient/p1")
    async with store.engine.connect() as conn:
        rows = [dict(row._mapping) for row in (await conn.execute(
            select(strings).where(strings.c.resource_pk == p1, strings.c.param == "family"))).all()]
        assert rows
        await conn.execute(insert(strings), rows + rows)  # each of p1's family rows three times
        page = compile_page(query(store, "Patient", ("_sort", sort), ("_count", "50")))
        pks, _ = page.page(await rows_of(conn, page))
        await conn.rollback()
    assert store.ordered(pks) == next(expected for t, s, expected in SORTS if t == "Patient" and s == sort)


async def test_paging_without_sort_follows_pk_and_filters(store: Store) -> None:
    found, pages = await all_pages(store, "Observation", ("code", "29463-7"), count=3)
    assert (found, pages) == (["o1", "o3", "o5", "o6"], 2)


async def test_count_zero_and_default_count(store: Store) -> None:
    page = compile_page(query(store, "Patient", ("_count", "0")))
    async with store.engine.connect() as conn:
        assert page.page(await rows_of(conn, page)) == ([], None)
    page = compile_page(query(store, "Observation"), default_count=4, max_count=5)
    async with store.engine.connect() as conn:
        pks, cursor = page.page(await rows_of(conn, page))
    assert len(pks) == 4 and cursor is not None
    capped = compile_page(query(store, "Observation", ("_count", "500")), max_count=5)
    assert capped.count == 5


async def test_bad_cursors_are_refused(store: Store) -> None:
    page = compile_page(query(store, "Patient", ("_sort", "family"), ("_count", "1")))
    async with store.engine.connect() as conn:
        _, cursor = page.page((await conn.execute(page.statement)).all())
    assert cursor is not None
    with pytest.raises(BadRequest, match="_sort"):
        compile_page(query(store, "Patient", ("_sort", "birthdate"), ("_cursor", cursor)))
    for garbage in ("!!!", "e30", "bm90IGpzb24"):
        with pytest.raises(BadRequest, match="_cursor"):
            compile_page(query(store, "Patient", ("_sort", "family"), ("_cursor", garbage)))


async def test_total(store: Store) -> None:
    async with store.engine.connect() as conn:
        total = (await conn.execute(compile_total(query(store, "Observation", ("code", "29463-7"))))).scalar_one()
    assert total == 4


async def test_approximate_dates_widen_with_distance_from_now(store: Store) -> None:
    q = query(store, "Observation", ("date", "ap2024-03-05"))
    near = parse_date_range("2024-03-05")[0]
    far = parse_date_range("2025-03-05")[0]
    assert store.ordered(await store.pks(compile_query(q, now=near).order_by("pk"))) == ["o1", "o5"]
    assert store.ordered(await store.pks(compile_query(q, now=far).order_by("pk"))) == ["o1", "o3", "o5"]


async def test_include_and_revinclude(store: Store) -> None:
    weights = await store.pks(compile_query(query(store, "Observation", ("code", "29463-7"))))
    [subject] = query(store, "Observation", ("_include", "Observation:subject")).result.include
    assert set(store.ordered(await store.pks(compile_include(subject, weights)))) == {"p1", "p2"}
    [groups] = query(store, "Observation", ("_include", "Observation:subject:Group")).result.include
    assert await store.pks(compile_include(groups, weights)) == []  # g1 is not stored
    [everything] = query(store, "Observation", ("_include", "Observation:*")).result.include
    assert set(store.ordered(await store.pks(compile_include(everything, weights)))) == {"p1", "p2", "e1", "e2", "dr1"}
    women = {"Patient": store.ordered(await store.pks(compile_query(query(store, "Patient", ("gender", "female")))))}
    [observations] = query(store, "Patient", ("_revinclude", "Observation:subject")).result.revinclude
    assert set(store.ordered(await store.pks(compile_revinclude(observations, women)))) == {"o1", "o2", "o4"}
    [encounters] = query(store, "Patient", ("_revinclude", "Encounter:subject")).result.revinclude
    assert set(store.ordered(await store.pks(compile_revinclude(encounters, women)))) == {"e1"}
    [anything] = query(store, "Patient", ("_revinclude", "*")).result.revinclude
    with pytest.raises(ValueError):
        compile_revinclude(anything, women)  # a wildcard needs the parameters that may refer to the page
    referring = store.registry.referring("Patient")
    assert ("Observation", ("focus", "patient", "performer", "subject")) in referring
    everything = await store.pks(compile_revinclude(anything, women, store.registry))
    assert set(store.ordered(everything)) >= {"o1", "o2", "o4", "e1"}
    [binaries] = query(store, "Patient", ("_revinclude", "Binary:*")).result.revinclude
    assert await store.pks(compile_revinclude(binaries, women, store.registry)) == []  # no parameter can refer


async def test_matcher_for_conditional_writes(store: Store) -> None:
    matcher = SearchMatcher(store.registry)
    async with store.engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        tx = Tx(driver_for(store.engine.dialect.name, raw), store.engine.dialect)
        [(pk, res_id)] = await matcher(tx, "Patient", [("identifier", "http://hospital.example/mrn|123")])
        assert res_id == "p1" and store.names[pk] == "Patient/p1"
        assert [res_id for _, res_id in await matcher(tx, "Patient", [("address-country", "ch")])] == ["p1", "p2"]
        assert await matcher(tx, "Patient", [("identifier", "http://hospital.example/mrn|999")]) == []
        with pytest.raises(BadRequest, match="colour"):
            await matcher(tx, "Patient", [("colour", "red")])
