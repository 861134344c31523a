"""Migration 0016: a version is unique by (resource_pk, version_id); a downgrade brings back the
(res_type, res_id, version_id) key, and the rows survive both ways (SQLite rebuilds the table)."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, inspect, select
from sqlalchemy.exc import IntegrityError

from fhir_server.config import Settings
from fhir_server.db.tables import resource_versions
from tests.fhir_server.db.support import at_revision, in_transaction


def version(resource_pk: int, res_id: str, version_id: int) -> dict:
    return {"resource_pk": resource_pk, "res_type": "Patient", "res_id": res_id, "version_id": version_id,
            "last_updated": version_id, "deleted": False, "method": "PUT", "body": b"sealed"}


async def unique_keys(conn) -> set[tuple[str, ...]]:
    constraints = await conn.run_sync(lambda sync: inspect(sync).get_unique_constraints("resource_versions"))
    return {tuple(c["column_names"]) for c in constraints}


async def stored(conn) -> list[tuple]:
    v = resource_versions
    return [tuple(row) for row in await conn.execute(select(v.c.resource_pk, v.c.res_id, v.c.version_id).order_by(v.c.pk))]


def add(url: str, *rows: dict) -> None:
    async def work(conn) -> None:
        for row in rows:
            await conn.execute(insert(resource_versions).values(**row))

    in_transaction(url, work)


def test_a_resource_has_each_version_once(settings: Settings):
    url = settings.sqlalchemy_url
    add(url, version(1, "a", 1), version(1, "a", 2), version(2, "b", 1))
    with pytest.raises(IntegrityError):
        add(url, version(1, "a", 2))
    assert in_transaction(url, stored) == [(1, "a", 1), (1, "a", 2), (2, "b", 1)]


def test_the_key_and_its_downgrade(settings: Settings):
    url = settings.sqlalchemy_url
    add(url, version(1, "a", 1), version(1, "a", 2))
    assert in_transaction(url, unique_keys) == {("resource_pk", "version_id")}
    with at_revision(url, "0015"):
        assert in_transaction(url, unique_keys) == {("res_type", "res_id", "version_id")}
        assert in_transaction(url, stored) == [(1, "a", 1), (1, "a", 2)]
    assert in_transaction(url, unique_keys) == {("resource_pk", "version_id")}
    assert in_transaction(url, stored) == [(1, "a", 1), (1, "a", 2)]
