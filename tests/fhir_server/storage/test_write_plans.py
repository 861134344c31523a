"""The generic plans a write transaction caches use the indexes, even when they are made from the
statistics of tables that were still small: PostgreSQL keeps such a plan until the tables are next
analyzed, however much they grow meanwhile."""

from __future__ import annotations

import pytest

from fhir_server.context import DEV_PRINCIPAL, RequestContext
from fhir_server.search.sql.identifier_lookup import LOOKUP_PG
from fhir_server.storage.batch import _PG_CURRENT, _PG_CURRENT_LOCKING_SOME, _PG_UPDATE_RESOURCES
from fhir_server.storage.bulk_load import _EXISTING

pytestmark = pytest.mark.parametrize("backend", ["postgresql"])  # SQLite plans every statement afresh
SYSTEM = "http://hospital.example/Mrn"
ARGS = "(ARRAY['Patient'], ARRAY['identifier'], ARRAY['http://hospital.example/Mrn'], ARRAY['M-1'], ARRAY[0])"


async def generic_plan(db, sql: str, types: str = "text[], text[], text[], text[], int4[]", args: str = ARGS) -> str:
    """The plan PostgreSQL caches for `sql` on `db` (in a transaction), as made with its settings."""
    await db.execute(f"PREPARE probe({types}) AS {sql}")
    await db.execute("SET LOCAL plan_cache_mode = force_generic_plan")
    plan = "\n".join(row[0] for row in await db.fetch(f"EXPLAIN EXECUTE probe{args}"))
    await db.execute("DEALLOCATE probe")
    return plan


async def young_database(runtime) -> None:
    """A few patients, analyzed: the statistics a database has in its first moments."""
    ctx = RequestContext(principal=DEV_PRINCIPAL, base_url="http://test/fhir")
    for n in range(20):
        await runtime.services.resources.create(ctx, "Patient", {"resourceType": "Patient", "identifier": [
            {"system": SYSTEM, "value": f"M-{n}"}]})
    async with runtime.store.pg_pool.acquire() as conn:
        await conn.execute("ANALYZE resources, search_token")


async def test_the_identifier_lookup_cached_in_a_write_uses_the_indexes(runtime) -> None:
    await young_database(runtime)
    async with runtime.store.write() as tx:
        plan = await generic_plan(tx.db, LOOKUP_PG)
    assert "Seq Scan" not in plan and "Hash" not in plan, plan
    assert "Index Only Scan using ix_search_token" in plan, plan
    assert "(pk = t.resource_pk)" in plan.split("on resources r", 1)[1], plan  # each match's resource, by its key


async def test_the_same_plan_outside_a_write_is_left_to_the_planner(runtime) -> None:
    """The control: on those statistics PostgreSQL's own choice is to read both tables whole."""
    await young_database(runtime)
    async with runtime.store.pg_pool.acquire() as conn, conn.transaction():
        plan = await generic_plan(conn, LOOKUP_PG)
    assert "Seq Scan on search_token" in plan, plan


KEYS = ("text[], text[]", "(ARRAY['Patient', 'Patient'], ARRAY['a', 'b'])")


async def test_the_batch_statements_cached_in_a_write_find_their_rows_by_key(runtime) -> None:
    await young_database(runtime)
    async with runtime.store.write() as tx:
        current = await generic_plan(tx.db, _PG_CURRENT + " FOR UPDATE OF r", *KEYS)
        existing = await generic_plan(tx.db, _EXISTING, *KEYS)
        update = await generic_plan(tx.db, _PG_UPDATE_RESOURCES, "int8[], int4[], int8[], bool[], bytea[], int4[]",
                                    "(ARRAY[1], ARRAY[2], ARRAY[0], ARRAY[false], ARRAY['x'::bytea], ARRAY[1])")
        some = await generic_plan(tx.db, _PG_CURRENT_LOCKING_SOME, "text[], text[], text[], text[]",
                                  "(ARRAY['Patient', 'Patient'], ARRAY['a', 'b'], ARRAY['Patient'], ARRAY['c'])")
    for plan in (current, existing, some):
        assert "Hash Join" not in plan and "Seq Scan" not in plan, plan
        assert "Index Cond: ((res_type = k.res_type) AND (res_id = k.res_id))" in plan, plan  # a probe per key
    # the current rows are locked in pk order, as before: the lock above the sort by pk
    assert current.lstrip().startswith("LockRows") and "Sort Key: r.pk" in current, current
    locked = some.split("CTE locked", 1)[1]
    assert "LockRows" in locked and "Sort Key: r_1.pk" in locked, some
    assert "Index Cond: (pk = ANY ($1))" in update, update  # the updated rows only, by pk


async def test_the_plain_join_of_the_keys_reads_the_whole_index_on_those_statistics(runtime) -> None:
    """The control: the shape the batch statements had, planned the same way."""
    await young_database(runtime)
    plain = ("SELECT r.pk FROM resources AS r JOIN unnest($1::text[], $2::text[]) AS k(res_type, res_id) "
             "ON r.res_type = k.res_type AND r.res_id = k.res_id ORDER BY r.pk")
    async with runtime.store.write() as tx:
        plan = await generic_plan(tx.db, plain, *KEYS)
    assert "Hash Join" in plan and "Index Cond" not in plan, plan


async def test_a_write_runs_the_batch_statements_on_their_generic_plan_every_time(runtime) -> None:
    """Left to choose (`auto`), PostgreSQL plans a statement afresh on every execution when its plans
    for the values look cheaper than the generic one, as they do for a few keys in `unnest($1)`."""
    from fhir_server.storage.batch import BatchStore

    await young_database(runtime)
    batches = BatchStore(runtime.store)
    async with runtime.store.write() as tx:
        for n in range(8):
            rows = await batches.current_many(tx, [("Patient", f"p{n}")], for_update=True,
                                              unlocked=[("Patient", f"q{n}")])
            assert rows == {}
        [(generic, custom)] = await tx.db.fetch(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = $1",
            _PG_CURRENT_LOCKING_SOME)
    assert (generic, custom) == (8, 0)
