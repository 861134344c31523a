"""Migration 0019: the indexes of `search_reference.url` and `search_token.system` keep only the rows
having one, and searches for a url or a system still use them."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from fhir_server.config import Settings
from tests.fhir_server.db.support import at_revision, in_transaction, rolled_back

INDEXES = {"ix_search_reference_res_type_param_url": "url", "ix_search_token_res_type_param_system": "system"}


async def definitions(conn) -> dict[str, str]:
    if conn.dialect.name == "postgresql":
        rows = await conn.execute(text("SELECT indexname, indexdef FROM pg_indexes WHERE indexname = ANY(:names)"),
                                  {"names": list(INDEXES)})
    else:
        rows = await conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'index'"))
    return {name: " ".join(definition.split()) for name, definition in rows if name in INDEXES}


def partial(found: dict[str, str]) -> dict[str, bool]:
    return {name: f"WHERE ({column} IS NOT NULL)" in found[name] or f"WHERE {column} IS NOT NULL" in found[name]
            for name, column in INDEXES.items()}


def test_the_indexes_are_partial_at_head_and_whole_before(settings: Settings):
    url = settings.sqlalchemy_url
    assert partial(in_transaction(url, definitions)) == dict.fromkeys(INDEXES, True)
    with at_revision(url, "0018"):
        assert partial(in_transaction(url, definitions)) == dict.fromkeys(INDEXES, False)
    assert partial(in_transaction(url, definitions)) == dict.fromkeys(INDEXES, True)


def test_postgresql_searches_a_system_or_a_url_through_them(postgres_url):
    if postgres_url is None:
        pytest.skip("PostgreSQL is not reachable")

    async def plans(conn) -> list[str]:
        # codes without a system (statuses) and with one, local references and a few absolute ones
        await conn.execute(
            "INSERT INTO search_token (resource_pk, res_type, param, system, code) "
            "SELECT n, 'Observation', 'code', CASE WHEN n % 2 = 0 THEN 'http://loinc.org' END, "
            "'c' || (n % 50) FROM generate_series(1, 5000) n")
        await conn.execute(
            "INSERT INTO search_reference (resource_pk, res_type, param, target_type, target_id, url) "
            "SELECT n, 'Observation', 'subject', CASE WHEN n % 100 <> 0 THEN 'Patient' END, "
            "CASE WHEN n % 100 <> 0 THEN 'p' || n END, "
            "CASE WHEN n % 100 = 0 THEN 'http://other.example/fhir/Patient/' || n END "
            "FROM generate_series(1, 5000) n")
        await conn.execute("ANALYZE search_token")
        await conn.execute("ANALYZE search_reference")
        await conn.execute("SET LOCAL enable_seqscan = off")
        token = await conn.fetch(
            "EXPLAIN SELECT resource_pk FROM search_token WHERE res_type = 'Observation' "
            "AND param = 'code' AND system = $1", "http://loinc.org")
        reference = await conn.fetch(
            "EXPLAIN SELECT resource_pk FROM search_reference WHERE res_type = 'Observation' "
            "AND param = 'subject' AND url = $1", "http://other.example/fhir/Patient/100")
        return ["\n".join(row[0] for row in plan) for plan in (token, reference)]

    token, reference = rolled_back(postgres_url, plans)
    assert "ix_search_token_res_type_param_system" in token, token
    assert "ix_search_reference_res_type_param_url" in reference, reference
