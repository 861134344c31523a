"""Helpers of the migration tests: work on a database at whatever revision it is."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import asyncpg
from alembic import command
from sqlalchemy.ext.asyncio import AsyncConnection

from fhir_server.db import migrate
from fhir_server.db.engine import create_engine

T = TypeVar("T")


def in_transaction(url: str, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    """Run `work` with a connection in one transaction (committed) on the database at `url`."""

    async def go() -> Any:
        engine = create_engine(url, pool_size=1)
        try:
            async with engine.begin() as conn:
                return await work(conn)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def rolled_back(postgres_url: str, work: Callable[[Any], Awaitable[T]]) -> T:
    """Run `work` with an asyncpg connection to PostgreSQL in a transaction that is rolled back: the
    run's database keeps none of the rows it adds."""

    async def go() -> Any:
        conn = await asyncpg.connect(postgres_url)
        transaction = conn.transaction()
        await transaction.start()
        try:
            return await work(conn)
        finally:
            await transaction.rollback()
            await conn.close()

    return asyncio.run(go())


@contextmanager
def at_revision(url: str, revision: str) -> Iterator[None]:
    """The database at `revision` for the block, and back at head after it, whatever happens in it."""
    command.downgrade(migrate.alembic_config(url), revision)
    try:
        yield
    finally:
        migrate.upgrade(url)
