"""The database driver under SQLAlchemy, for the statements on every request's path.

SQLAlchemy builds the schema, the migrations and every search query; the few statements each read
and write runs (a primary-key SELECT, the inserts of a new version) go straight to the driver, which
costs a fraction of a SQLAlchemy execution. SQL here is written once with `$1` placeholders;
SQLite receives them as its numbered `?1`.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Awaitable, Iterable, Sequence
from typing import Any, Protocol, TypeVar

import asyncpg

from fhir_server.storage.statements import compile_for

__all__ = ["Driver", "AsyncpgDriver", "SqliteDriver", "driver_for", "ConcurrentWrite", "create_pg_pool", "compile_for",
           "PLACEHOLDER"]

T = TypeVar("T")


class ConcurrentWrite(Exception):
    """Another transaction wrote the same thing first (a duplicate key, a serialization failure or a
    deadlock); the unit of work may be retried on fresh state."""


_PG_RETRYABLE = (asyncpg.UniqueViolationError, asyncpg.SerializationError, asyncpg.DeadlockDetectedError)


async def _pg(call: Awaitable[T]) -> T:
    try:
        return await call
    except _PG_RETRYABLE as exc:
        raise ConcurrentWrite(str(exc)) from exc


async def _sqlite(call: Awaitable[T]) -> T:
    try:
        return await call
    except sqlite3.IntegrityError as exc:
        if "UNIQUE" in str(exc):
            raise ConcurrentWrite(str(exc)) from exc
        raise

PLACEHOLDER = re.compile(r"\$(\d+)")  # a numbered parameter of the SQL text the drivers take


class Driver(Protocol):
    async def fetchrow(self, sql: str, *args: Any) -> Sequence[Any] | None: ...

    async def fetch(self, sql: str, *args: Any) -> list[Sequence[Any]]: ...

    async def fetchval(self, sql: str, *args: Any) -> Any: ...

    async def execute(self, sql: str, *args: Any) -> None: ...

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...


class AsyncpgDriver:
    __slots__ = ("raw",)

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    async def fetchrow(self, sql: str, *args: Any) -> Sequence[Any] | None:
        return await _pg(self.raw.fetchrow(sql, *args))

    async def fetch(self, sql: str, *args: Any) -> list[Sequence[Any]]:
        return await _pg(self.raw.fetch(sql, *args))

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return await _pg(self.raw.fetchval(sql, *args))

    async def execute(self, sql: str, *args: Any) -> None:
        await _pg(self.raw.execute(sql, *args))

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await _pg(self.raw.executemany(sql, rows))


class SqliteDriver:
    __slots__ = ("raw", "_sql")

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self._sql: dict[str, str] = {}

    def _translate(self, sql: str) -> str:
        translated = self._sql.get(sql)
        if translated is None:
            translated = self._sql[sql] = PLACEHOLDER.sub(r"?\1", sql)
        return translated

    async def fetchrow(self, sql: str, *args: Any) -> Sequence[Any] | None:
        cursor = await _sqlite(self.raw.execute(self._translate(sql), args))
        try:
            return await cursor.fetchone()
        finally:
            await cursor.close()

    async def fetch(self, sql: str, *args: Any) -> list[Sequence[Any]]:
        cursor = await _sqlite(self.raw.execute(self._translate(sql), args))
        try:
            return list(await cursor.fetchall())
        finally:
            await cursor.close()

    async def fetchval(self, sql: str, *args: Any) -> Any:
        row = await self.fetchrow(sql, *args)
        return None if row is None else row[0]

    async def execute(self, sql: str, *args: Any) -> None:
        cursor = await _sqlite(self.raw.execute(self._translate(sql), args))
        await cursor.close()

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await _sqlite(self.raw.executemany(self._translate(sql), list(rows)))


def driver_for(dialect: str, raw: Any) -> Driver:
    return SqliteDriver(raw) if dialect == "sqlite" else AsyncpgDriver(raw)


async def _no_reset(connection: Any) -> None:
    """Connections come back from a unit of work with no transaction, session state or listeners
    of ours, so the pool's default reset (a round trip on every release) is skipped."""


async def create_pg_pool(dsn: str, *, size: int, **settings: str) -> Any:
    """The asyncpg pool that every read and write of the resource store runs on; `settings` are
    further session settings (`synchronous_commit="off"`)."""
    return await asyncpg.create_pool(dsn, min_size=1, max_size=size, reset=_no_reset, statement_cache_size=512,
                                     server_settings={"jit": "off", **settings})
