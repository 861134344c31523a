"""Every SQL test runs on SQLite and on PostgreSQL (a throw-away database, dropped afterwards)."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from fhir_server.db.tables import SEARCH_INDEX_TABLES, metadata, resources
from fhir_server.search import SearchRegistry, extract
from fhir_server.search.dates import parse_date_range
from tests.fhir_server.search.samples import STORE
from tests.fhir_server.search.sql.store import Store

# the same variables as tests/conftest.py: an admin database URL, and whether a missing server fails
ADMIN_URL = os.environ.get("FHIR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_POSTGRES = os.environ.get("FHIR_TEST_REQUIRE_POSTGRES", "") in ("1", "true", "yes")


async def _postgres_admin() -> asyncpg.Connection:
    try:
        return await asyncpg.connect(ADMIN_URL.replace("postgresql+asyncpg://", "postgresql://"), timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:  # pragma: no cover - depends on the machine
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL is required (FHIR_TEST_REQUIRE_POSTGRES) but not reachable: {exc}")
        pytest.skip(f"PostgreSQL is not reachable at {ADMIN_URL}: {exc}")


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["sqlite", "postgresql"])
async def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[AsyncEngine]:
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("search") / "search.db"
        engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
        yield engine
        await engine.dispose()
        return
    name = f"search_test_{secrets.token_hex(6)}"
    admin = await _postgres_admin()
    try:
        # a linguistic collation, as production databases often have, so byte-order sorting is tested
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0 LOCALE_PROVIDER icu '
                            "ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'")
    except asyncpg.PostgresError:  # pragma: no cover - PostgreSQL without ICU
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = ADMIN_URL.rpartition("/")[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    engine = create_async_engine(f"{base}/{name}")
    try:
        yield engine
    finally:
        await engine.dispose()
        admin = await _postgres_admin()
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def store(engine: AsyncEngine) -> Store:
    registry = SearchRegistry.from_definitions()
    names: dict[int, str] = {}
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        for resource, last_updated, deleted in STORE:
            pk = (await conn.execute(insert(resources).returning(resources.c.pk), {
                "res_type": resource["resourceType"], "res_id": resource["id"], "version_id": 1,
                "last_updated": parse_date_range(last_updated)[0], "deleted": deleted, "body": None,
            })).scalar_one()
            names[pk] = f"{resource['resourceType']}/{resource['id']}"
            for kind, rows in extract(registry, resource).items():
                if rows:
                    await conn.execute(insert(SEARCH_INDEX_TABLES[kind]), [{**row, "resource_pk": pk} for row in rows])
    return Store(engine, registry, names)
