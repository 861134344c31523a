"""Test backends: every storage and interaction test runs on SQLite and on PostgreSQL.

PostgreSQL: `FHIR_TEST_POSTGRES_URL` (default postgresql://postgres@127.0.0.1:5432/test) names a server
and an admin database; the run creates its own database with a random name and drops it at the end.
Without a reachable server the PostgreSQL half is skipped, unless `FHIR_TEST_REQUIRE_POSTGRES=1`
(as CI sets), which turns that into a failure. `FHIR_TEST_REDIS_URL` likewise names Redis.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from fhir_server.config import Settings
from fhir_server.db import migrate

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
BACKENDS = ["sqlite", "postgresql"]


def _require_postgres() -> bool:
    return os.environ.get("FHIR_TEST_REQUIRE_POSTGRES", "") in ("1", "true", "yes")


async def _admin(url: str, statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"), timeout=5)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str | None]:
    """A fresh PostgreSQL database for this run, migrated to head; dropped afterwards."""
    admin_url = os.environ.get("FHIR_TEST_POSTGRES_URL", DEFAULT_POSTGRES)
    name = f"fhir_test_{secrets.token_hex(6)}"
    try:
        asyncio.run(_admin(admin_url, f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # no server: skip the PostgreSQL half unless CI demands it
        if _require_postgres():
            pytest.fail(f"PostgreSQL is required (FHIR_TEST_REQUIRE_POSTGRES) but not reachable: {exc}")
        yield None
        return
    base, _, _ = admin_url.rpartition("/")
    url = f"{base}/{name}"
    settings = Settings(database_url=url)
    migrate.upgrade(settings.sqlalchemy_url)
    try:
        yield url
    finally:
        asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied for each test (migrating each time would be slow)."""
    path = tmp_path_factory.mktemp("template") / "fhir.db"
    migrate.upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


# what `migrate` installs besides the schema: Alembic's version and the shipped terminology content
MIGRATED_CONTENT = ("alembic_version", "terminology_content", "terminology_release")


async def _truncate_postgres(url: str) -> None:
    """Empty every table of the schema (whichever module defines it), keeping what `migrate` installed."""
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"), timeout=5)
    try:
        names = [row[0] for row in await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> ALL($1::text[])",
            list(MIGRATED_CONTENT))]
        if names:
            await conn.execute(f"TRUNCATE {', '.join(chr(34) + n + chr(34) for n in names)} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()


@pytest.fixture
def settings(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """Settings for one test on one backend: its own data dir (and keyring), an empty database."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    if backend == "sqlite":
        shutil.copy(request.getfixturevalue("sqlite_template"), data_dir / "fhir.db")
        return Settings(data_dir=data_dir, dev_mode=True)
    url = request.getfixturevalue("postgres_url")
    if url is None:
        pytest.skip("PostgreSQL is not reachable (set FHIR_TEST_POSTGRES_URL)")
    asyncio.run(_truncate_postgres(url))
    return Settings(data_dir=data_dir, database_url=url, dev_mode=True)


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[object]:
    from fhir_server.bootstrap import start_runtime

    rt = await start_runtime(settings)
    try:
        yield rt
    finally:
        await rt.close()


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[object]:
    """An HTTP client for the app in dev mode, with its lifespan running."""
    import httpx

    from fhir_server.app import create_app

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http
