"""Migration 0015: `resources` has one index on (res_type, res_id) — the unique constraint's, covering pk
and deleted on PostgreSQL — and a downgrade brings back the second, covering one."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import IntegrityError

from fhir_server.config import Settings
from fhir_server.db.tables import resources
from tests.fhir_server.db.support import at_revision, in_transaction

# every index of `resources` whose key starts (res_type, res_id): name -> (unique, definition)
_ID_INDEXES = text(
    "SELECT i.relname, x.indisunique, pg_get_indexdef(x.indexrelid) FROM pg_index x "
    "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
    "WHERE t.relname = 'resources' AND pg_get_indexdef(x.indexrelid) LIKE '%(res_type, res_id%'")
_CONSTRAINT_INDEX = text("SELECT i.relname FROM pg_constraint c JOIN pg_class i ON i.oid = c.conindid "
                         "WHERE c.conname = 'uq_resources_res_type_res_id'")


async def id_indexes(conn) -> dict[str, tuple[bool, str]]:
    return {name: (unique, definition.split(" USING ")[1]) for name, unique, definition in await conn.execute(_ID_INDEXES)}


async def constraint_index(conn) -> str:
    return (await conn.execute(_CONSTRAINT_INDEX)).scalar_one()


def row(res_id: str) -> dict:
    return {"res_type": "Patient", "res_id": res_id, "version_id": 1, "last_updated": 1, "deleted": False,
            "body": b"sealed"}


async def insert_twice(conn) -> None:
    await conn.execute(insert(resources).values(**row("same")))
    await conn.execute(insert(resources).values(**row("same")))


def test_a_second_resource_of_the_same_type_and_id_is_refused(settings: Settings):
    in_transaction(settings.sqlalchemy_url, lambda conn: conn.execute(insert(resources).values(**row("other"))))
    with pytest.raises(IntegrityError):
        in_transaction(settings.sqlalchemy_url, insert_twice)


def test_one_unique_covering_index_and_the_downgrade_restores_two(postgres_url):
    if postgres_url is None:
        pytest.skip("INCLUDE columns are PostgreSQL's")
    url = Settings(database_url=postgres_url).sqlalchemy_url
    covering = "btree (res_type, res_id) INCLUDE (pk, deleted)"
    assert in_transaction(url, id_indexes) == {"uq_resources_res_type_res_id": (True, covering)}
    assert in_transaction(url, constraint_index) == "uq_resources_res_type_res_id"
    with at_revision(url, "0014"):
        assert in_transaction(url, id_indexes) == {
            "uq_resources_res_type_res_id": (True, "btree (res_type, res_id)"),
            "ix_resources_res_type_res_id_pk": (False, covering)}
        assert in_transaction(url, constraint_index) == "uq_resources_res_type_res_id"
    assert in_transaction(url, id_indexes) == {"uq_resources_res_type_res_id": (True, covering)}
