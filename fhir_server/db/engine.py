"""The async SQLAlchemy engine for PostgreSQL (asyncpg) or SQLite (aiosqlite)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

__all__ = ["create_engine", "SQLITE_WRITE"]

# Execution option for write transactions on SQLite: take the write lock at BEGIN, so two writers
# queue on the busy timeout instead of failing when a read lock cannot be upgraded.
SQLITE_WRITE = {"sqlite_begin": "IMMEDIATE"}


def create_engine(url: str, *, pool_size: int = 20, echo: bool = False) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})
        _configure_sqlite(engine)
        return engine
    return create_async_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=False,
        # asyncpg's own prepared-statement cache serves the hot primary-key reads
        connect_args={"statement_cache_size": 512, "server_settings": {"jit": "off"}},
    )


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # let SQLAlchemy's begin event below issue BEGIN itself (pysqlite's own is deferred and late)
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")
