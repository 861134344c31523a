"""The server refreshes the planner's statistics of a table whose rows changed by more than 50 + 10%
since its last analysis (autovacuum's rule), one process at a time, in the background too; on
PostgreSQL (SQLite has no such statistics)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import asyncpg
import pytest

from fhir_server.storage.statistics import _LOCK_KEY, StatisticsKeeper, analyze_stale, stale_tables


@pytest.fixture
async def probe(postgres_url: str | None) -> AsyncIterator[tuple[asyncpg.Connection, str]]:
    """A connection and a new, empty table of the test database, dropped afterwards."""
    if postgres_url is None:
        pytest.skip("planner statistics are PostgreSQL's")
    conn = await asyncpg.connect(postgres_url)
    table = f"statistics_probe_{secrets.token_hex(4)}"
    await conn.execute(f'CREATE TABLE "{table}" (n int)')
    try:
        yield conn, table
    finally:
        await conn.execute(f'DROP TABLE "{table}"')
        await conn.close()


async def insert(conn: asyncpg.Connection, table: str, rows: int) -> None:
    """Insert `rows` rows, the counters sent on to the statistics views at once."""
    await conn.execute(f'INSERT INTO "{table}" SELECT generate_series(1, $1)', rows)
    await conn.execute("SELECT pg_stat_force_next_flush()")
    await conn.execute("SELECT 1")


async def changed_since_analysis(conn: asyncpg.Connection, table: str, expected: int) -> None:
    for _ in range(100):
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        if await conn.fetchval("SELECT n_mod_since_analyze FROM pg_stat_user_tables WHERE relname = $1",
                               table) == expected:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{table}: the statistics views never showed {expected} changed rows")


async def reltuples(conn: asyncpg.Connection, table: str) -> float:
    return await conn.fetchval("SELECT reltuples FROM pg_class WHERE relname = $1", table)


async def test_a_table_changed_by_more_than_a_tenth_is_analyzed(probe):
    conn, table = probe
    await insert(conn, table, 500)
    await changed_since_analysis(conn, table, 500)
    assert table in await stale_tables(conn)
    assert await reltuples(conn, table) <= 0  # never analyzed: the planner knows nothing of its rows

    assert table in await analyze_stale(conn)
    assert await reltuples(conn, table) == 500
    await changed_since_analysis(conn, table, 0)
    assert table not in await stale_tables(conn)

    await insert(conn, table, 90)  # 50 + 10% of 500 = 100 changed rows make it stale, 90 do not
    await changed_since_analysis(conn, table, 90)
    assert table not in await stale_tables(conn)
    await insert(conn, table, 20)
    await changed_since_analysis(conn, table, 110)
    assert table in await stale_tables(conn)


async def test_one_process_analyzes_at_a_time(probe, postgres_url):
    conn, table = probe
    await insert(conn, table, 500)
    await changed_since_analysis(conn, table, 500)
    other = await asyncpg.connect(postgres_url)
    try:
        await other.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)  # another process is analyzing
        assert await analyze_stale(conn) == []
        assert await reltuples(conn, table) <= 0
    finally:
        await other.close()  # its lock goes with it
    assert table in await analyze_stale(conn)


async def test_the_keeper_analyzes_in_the_background(probe, postgres_url):
    conn, table = probe
    pool = await asyncpg.create_pool(postgres_url, min_size=1, max_size=1)
    keeper = StatisticsKeeper(pool, interval=0.05)
    keeper.start()
    try:
        await insert(conn, table, 300)
        for _ in range(200):
            if await reltuples(conn, table) == 300:
                break
            await asyncio.sleep(0.05)
        assert await reltuples(conn, table) == 300
    finally:
        await keeper.close()
        await pool.close()
