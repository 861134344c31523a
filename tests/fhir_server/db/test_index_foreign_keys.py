"""Migration 0011: history and index rows carry no foreign keys, and a database migrated from 0010
keeps every row it held (SQLite rebuilds the tables), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from alembic import command
from sqlalchemy import func, insert, inspect, select

from fhir_server.config import Settings
from fhir_server.db import migrate
from fhir_server.db.engine import create_engine
from fhir_server.db.tables import SEARCH_INDEX_TABLES, resource_versions, resources, search_string

# the index tables 0011 changed (`search_text` came with 0013, without foreign keys)
INDEX_TABLES = [table for kind, table in SEARCH_INDEX_TABLES.items() if kind != "text"]
TABLES = [resource_versions.name, *(table.name for table in INDEX_TABLES)]


def foreign_keys(url: str) -> dict[str, list[str]]:
    """The tables each of TABLES refers to by foreign key."""

    async def read() -> dict[str, list[str]]:
        engine = create_engine(url, pool_size=1)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(lambda sync: {
                    name: [fk["referred_table"] for fk in inspect(sync).get_foreign_keys(name)] for name in TABLES})
        finally:
            await engine.dispose()

    return asyncio.run(read())


def row_counts(url: str) -> dict[str, int]:
    async def read() -> dict[str, int]:
        engine = create_engine(url, pool_size=1)
        try:
            async with engine.connect() as conn:
                tables = [resource_versions, *INDEX_TABLES]
                return {t.name: await conn.scalar(select(func.count()).select_from(t)) for t in tables}
        finally:
            await engine.dispose()

    return asyncio.run(read())


def write_rows(url: str) -> None:
    """A resource with a history row and an index row, as the 0010 schema held them (the server itself
    would migrate or refuse to start at an older revision)."""

    async def write() -> None:
        engine = create_engine(url, pool_size=1)
        try:
            async with engine.begin() as conn:
                await conn.execute(insert(resources).values(
                    pk=7, res_type="Patient", res_id="p7", version_id=1, last_updated=1, deleted=False, body=b"x"))
                await conn.execute(insert(resource_versions).values(
                    resource_pk=7, res_type="Patient", res_id="p7", version_id=1, last_updated=1, deleted=False,
                    method="POST", body=b"x"))
                await conn.execute(insert(search_string).values(
                    resource_pk=7, res_type="Patient", param="family", value_norm="okafor", value_exact="Okafor"))
        finally:
            await engine.dispose()

    asyncio.run(write())


def indexed_by_family(url: str, family: str) -> int:
    async def read() -> int:
        engine = create_engine(url, pool_size=1)
        try:
            async with engine.connect() as conn:
                return await conn.scalar(select(func.count()).select_from(search_string).where(
                    search_string.c.param == "family", search_string.c.value_norm == family))
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_history_and_index_rows_have_no_foreign_keys(settings: Settings):
    assert foreign_keys(settings.sqlalchemy_url) == {name: [] for name in TABLES}


def test_upgrading_from_0010_keeps_the_rows(settings: Settings):
    url = settings.sqlalchemy_url
    config = migrate.alembic_config(url)
    command.downgrade(config, "0010")
    try:
        assert all(fks == ["resources"] for fks in foreign_keys(url).values())
        write_rows(url)
        before = row_counts(url)
        assert before[resource_versions.name] == 1 and before["search_string"] == 1
    finally:
        migrate.upgrade(url)
    assert foreign_keys(url) == {name: [] for name in TABLES}
    assert row_counts(url) == before
    assert indexed_by_family(url, "okafor") == 1
