"""Migration 0020: no index of `search_reference` starts with the target, and a compartment search
still reads the reference index by type and parameter, and `resources` by pk only."""

from __future__ import annotations

import pytest
from sqlalchemy import select as sql_select
from sqlalchemy import text
from sqlalchemy.dialects import postgresql

from fhir_server.config import Settings
from fhir_server.db.tables import resources
from fhir_server.search.compartments import compartment
from fhir_server.search.sql.compile import criterion
from fhir_server.wiring import search_registry
from tests.fhir_server.db.support import at_revision, in_transaction, rolled_back

DROPPED = "ix_search_reference_target_type_target_id"


async def index_names(conn) -> set[str]:
    if conn.dialect.name == "postgresql":
        rows = await conn.execute(text("SELECT indexname FROM pg_indexes WHERE tablename = 'search_reference'"))
    else:
        rows = await conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'index' "
                                       "AND tbl_name = 'search_reference'"))
    return {name for (name,) in rows}


def test_the_index_is_gone_at_head_and_back_before(settings: Settings):
    url = settings.sqlalchemy_url
    at_head = in_transaction(url, index_names)
    assert DROPPED not in at_head and "ix_search_reference_target_resource" in at_head
    with at_revision(url, "0019"):
        assert DROPPED in in_transaction(url, index_names)
    assert in_transaction(url, index_names) == at_head


def test_postgresql_finds_compartment_members_by_type_and_parameter(postgres_url):
    if postgres_url is None:
        pytest.skip("PostgreSQL is not reachable")

    async def plan(conn) -> str:
        await conn.execute(
            "INSERT INTO search_reference (resource_pk, res_type, param, target_type, target_id) "
            "SELECT n, (ARRAY['Observation', 'Encounter', 'Condition'])[n % 3 + 1], "
            "(ARRAY['subject', 'performer', 'encounter'])[n % 3 + 1], 'Patient', 'p' || (n % 2000) "
            "FROM generate_series(1, 30000) n")
        await conn.execute("ANALYZE search_reference")
        rows = await conn.fetch(
            "EXPLAIN SELECT resource_pk FROM search_reference WHERE target_type = 'Patient' "
            "AND target_id = 'p17' AND ((res_type = 'Observation' AND param IN ('subject', 'performer')) "
            "OR (res_type = 'Encounter' AND param IN ('subject')) OR (res_type = 'Condition' AND param IN "
            "('subject', 'asserter')))")
        return "\n".join(row[0] for row in rows)

    found = rolled_back(postgres_url, plan)
    assert "ix_search_reference_target_resource" in found and "Seq Scan" not in found, found


def test_postgresql_reads_a_whole_compartment_by_pk(postgres_url):
    """`Patient/p17/*`: its members and the Patient itself as one set of pks, so `resources` is read by
    pk, not tested row by row against an OR."""
    if postgres_url is None:
        pytest.skip("PostgreSQL is not reachable")
    node = compartment(search_registry(), "Patient", "p17", None)
    sql = str(sql_select(resources.c.pk).where(criterion(node, resources, "Observation")).limit(50).compile(
        dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))

    async def plan(conn) -> tuple[str, set[int]]:
        await conn.execute(
            "INSERT INTO resources (pk, res_type, res_id, version_id, last_updated, deleted) "
            "SELECT n, CASE WHEN n <= 2000 THEN 'Patient' ELSE 'Observation' END, 'p' || n, 1, 0, false "
            "FROM generate_series(1, 20000) n")
        await conn.execute(
            "INSERT INTO search_reference (resource_pk, res_type, param, target_type, target_id) "
            "SELECT n, 'Observation', 'subject', 'Patient', 'p' || (n % 2000) FROM generate_series(2001, 20000) n")
        await conn.execute("ANALYZE resources, search_reference")
        found = {row[0] for row in await conn.fetch(sql)}
        return "\n".join(row[0] for row in await conn.fetch("EXPLAIN " + sql)), found

    explained, found = rolled_back(postgres_url, plan)
    assert "Seq Scan on resources" not in explained, explained
    assert found == {17} | {n for n in range(2001, 20001) if n % 2000 == 17}  # the Patient and its Observations
