"""Chains and `_has` planned for small sets and for large give the same matches; the probes count
them; totals count the matches; conditional-write criteria resolve value sets through the terminology
when the matcher has it."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import Select

from fhir_server.errors import FhirError
from fhir_server.search import compile_query, compile_total, parse_query
from fhir_server.search.query import Chain, Has, ParsedQuery
from fhir_server.search.sql.compile import compile_chain_probe, compile_has_probe
from fhir_server.search.sql.identifier_lookup import LOOKUP_PG
from fhir_server.search.sql.matcher import SearchMatcher
from fhir_server.search.sql.sizes import Sizes
from fhir_server.storage.driver import driver_for
from fhir_server.storage.repository import Tx
from tests.fhir_server.search.sql.store import Store
from tests.fhir_server.search.sql.test_predicates import (
    CHAIN_AND_HAS,
    DATE,
    NUMBER_AND_QUANTITY,
    REFERENCE_AND_URI,
    STRING,
    TOKEN,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


def _marked(query: ParsedQuery, many: bool) -> ParsedQuery:
    return replace(query, criteria=tuple(replace(node, many=many) if isinstance(node, Chain | Has) else node
                                         for node in query.criteria))


@pytest.mark.parametrize("many", [False, True], ids=["few", "many"])
@pytest.mark.parametrize(("resource_type", "pairs", "expected"), CHAIN_AND_HAS,
                         ids=[f"{t}?{'&'.join(f'{k}={v}' for k, v in p)}" for t, p, _ in CHAIN_AND_HAS])
async def test_chains_and_has_match_the_same_planned_for_small_or_large_sets(
        store: Store, resource_type: str, pairs: list[tuple[str, str]], expected: set[str], many: bool) -> None:
    query = _marked(parse_query(store.registry, resource_type, pairs), many)
    assert set(store.ordered(await store.pks(compile_query(query)))) == expected


async def test_the_probe_counts_a_chains_rows_up_to_its_limit(store: Store) -> None:
    def probe(value: str, limit: int) -> Select[Any]:
        chain = parse_query(store.registry, "Observation", [("subject:Patient.gender", value)]).criteria[0]
        assert isinstance(chain, Chain)
        return compile_chain_probe(chain, limit=limit)

    assert await store.pks(probe("female", 10)) == [3]  # o1, o2, o4 (o6's patient is deleted)
    assert await store.pks(probe("female", 2)) == [2]
    assert await store.pks(probe("other", 10)) == [0]


async def test_the_has_probe_counts_the_matching_resources_of_the_other_type(store: Store) -> None:
    def probe(code: str, limit: int) -> Select[Any]:
        has = parse_query(store.registry, "Patient", [("_has:Observation:patient:code", code)]).criteria[0]
        assert isinstance(has, Has)
        return compile_has_probe(has, limit=limit)

    expected = len(await store.search("Observation", ("code", "29463-7")))
    assert expected > 1
    assert await store.pks(probe("29463-7", 100)) == [expected]
    assert await store.pks(probe("29463-7", 1)) == [1]
    assert await store.pks(probe("no-such-code", 100)) == [0]


async def test_sizes_are_counted_once_and_marked(store: Store) -> None:
    probes: list[Select[Any]] = []

    async def fetch(statement: Select[Any]) -> Sequence[Sequence[Any]]:
        probes.append(statement)
        return [[(await store.pks(statement))[0]]]

    sizes = Sizes()
    query = parse_query(store.registry, "Observation", [("subject:Patient.name", "ann"), ("code", "4548-4")])
    for _ in range(2):
        sized = await sizes.sized(query, fetch)
        assert [node.many for node in sized.criteria if isinstance(node, Chain)] == [False]
    assert len(probes) == 1
    has = parse_query(store.registry, "Patient", [("_has:Observation:patient:code", "29463-7")])
    assert [node.many for node in (await sizes.sized(has, fetch)).criteria] == [False]
    assert len(probes) == 2
    plain = parse_query(store.registry, "Observation", [("code", "4548-4")])
    assert await sizes.sized(plain, fetch) is plain


class _Tx:
    """A `Tx` per statement, on a connection of the store's engine."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.dialect = store.engine.dialect

    async def select(self, statement: Any) -> list[dict[str, Any]]:
        async with self.store.engine.connect() as conn:
            return await Tx(driver_for(self.dialect.name, (await conn.get_raw_connection()).driver_connection),
                            self.dialect).select(statement)

    async def select_sql(self, sql: str, params: Sequence[Any], *, any_plan: bool = False) -> list[Sequence[Any]]:
        async with self.store.engine.connect() as conn:
            return await Tx(driver_for(self.dialect.name, (await conn.get_raw_connection()).driver_connection),
                            self.dialect).select_sql(sql, params, any_plan=any_plan)


class _WeightCodes:
    def value_set_codes(self, reference: str) -> Collection[tuple[str, str]]:
        return {("http://loinc.org", "29463-7")}

    def related_codes(self, system: str, code: str, *, above: bool) -> Collection[str]:
        return ()


async def test_conditional_criteria_resolve_value_sets_with_the_terminology(store: Store) -> None:
    criteria = [("code:in", "http://example.org/ValueSet/weights"), ("status", "final")]
    with pytest.raises(FhirError):  # no terminology: refused
        await SearchMatcher(store.registry)(_Tx(store), "Observation", criteria)  # type: ignore[arg-type]
    matches = await SearchMatcher(store.registry, _WeightCodes())(_Tx(store), "Observation", criteria)  # type: ignore[arg-type]
    expected = await store.search("Observation", ("code", "http://loinc.org|29463-7"), ("status", "final"))
    assert expected and {res_id for _, res_id in matches} == expected


ALL_CASES = STRING + TOKEN + DATE + NUMBER_AND_QUANTITY + REFERENCE_AND_URI + CHAIN_AND_HAS


@pytest.mark.parametrize(("resource_type", "pairs", "expected"), ALL_CASES,
                         ids=[f"{t}?{'&'.join(f'{k}={v}' for k, v in p)}" for t, p, _ in ALL_CASES])
async def test_totals_count_the_matches(store: Store, resource_type: str, pairs: list[tuple[str, str]],
                                        expected: set[str]) -> None:
    query = parse_query(store.registry, resource_type, pairs)
    assert await store.pks(compile_total(query)) == [len(expected)]


async def test_many_criteria_match_together_as_each_alone(store: Store) -> None:
    wanted = [(resource_type, pairs) for resource_type, pairs, _ in ALL_CASES]
    wanted = (wanted * (250 // len(wanted) + 1))[:250]  # across the statements of a hundred criteria each
    matcher = SearchMatcher(store.registry)
    together = await matcher.many(_Tx(store), wanted)  # type: ignore[arg-type]
    alone = [await matcher(_Tx(store), resource_type, pairs) for resource_type, pairs in wanted]  # type: ignore[arg-type]
    assert together == alone
    assert {len(found) for found in alone} >= {0, 1, 2}
    expected = {(t, tuple(p)): e for t, p, e in ALL_CASES}
    assert all({res_id for _, res_id in found} == expected[(t, tuple(p))] for (t, p), found in zip(wanted, together, strict=True))


class _RecordingTx(_Tx):
    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.statements: list[str] = []

    async def select_sql(self, sql: str, params: Sequence[Any], *, any_plan: bool = False) -> list[Sequence[Any]]:
        self.statements.append(sql)
        return await super().select_sql(sql, params, any_plan=any_plan)


async def test_identifier_criteria_of_a_group_go_to_the_database_together(store: Store) -> None:
    wanted = [("Patient", [("identifier", "http://hospital.example/mrn|123")]),
              ("Patient", [("identifier", "http://hospital.example/mrn|999")]),
              ("Observation", [("code", "http://loinc.org|4548-4")]),
              ("Patient", [("identifier", "http://hospital.example/mrn|123")]),
              ("Patient", [("identifier", "123")])]  # no system: not a lookup, templated
    tx = _RecordingTx(store)
    found = await SearchMatcher(store.registry).many(tx, wanted)  # type: ignore[arg-type]
    assert [{res_id for _, res_id in matches} for matches in found] == [{"p1"}, set(), {"o2"}, {"p1"}, {"p1", "p3"}]
    if store.engine.dialect.name == "postgresql":  # the four lookups in one statement, the other templated
        assert len(tx.statements) == 2 and tx.statements[0] == LOOKUP_PG
    else:  # SQLite plans a union of templates cheaply: all five in one
        assert len(tx.statements) == 1 and tx.statements[0].count("UNION ALL") == 4
