"""Where autovacuum is off, the server analyzes a table whose rows changed by more than 50 + 10% since
its last analysis and vacuums one with more dead rows than 50 + 20% (autovacuum's rules), in one
process per database, in the background; on PostgreSQL (SQLite has no such upkeep)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest
from alembic import command

from fhir_server.config import Settings
from fhir_server.db import migrate
from fhir_server.storage.statistics import _LOCK_KEY, StatisticsKeeper, due_tables, maintain, pause


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
    assert (await due_tables(conn)).get(table) == "analyze"
    assert await reltuples(conn, table) <= 0  # never analyzed: the planner knows nothing of its rows

    assert (await maintain(conn)).get(table) == "analyze"
    assert await reltuples(conn, table) == 500
    await changed_since_analysis(conn, table, 0)
    assert table not in await due_tables(conn)

    await insert(conn, table, 90)  # 50 + 10% of 500 = 100 changed rows make it stale, 90 do not
    await changed_since_analysis(conn, table, 90)
    assert table not in await due_tables(conn)
    await insert(conn, table, 20)
    await changed_since_analysis(conn, table, 110)
    assert (await due_tables(conn)).get(table) == "analyze"


async def test_a_table_with_many_dead_rows_is_vacuumed(probe):
    conn, table = probe
    await insert(conn, table, 500)
    await maintain(conn)
    await conn.execute(f'DELETE FROM "{table}" WHERE n <= 200')  # 200 dead rows: over 50 + 20% of 500
    await conn.execute("SELECT pg_stat_force_next_flush()")
    await conn.execute("SELECT 1")
    for _ in range(100):
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        if (await due_tables(conn)).get(table) == "vacuum":
            break
        await asyncio.sleep(0.05)
    assert (await maintain(conn)).get(table) == "vacuum"
    await conn.execute("SELECT pg_stat_clear_snapshot()")
    assert await conn.fetchval("SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = $1", table) == 1
    assert await reltuples(conn, table) == 300


@pytest.fixture
async def own_database(postgres_url: str | None) -> AsyncIterator[str]:
    """A new, empty database of the test cluster, dropped afterwards: the upkeep lock is one per
    database, and the test database's is held by the keepers of the runtimes other tests start."""
    if postgres_url is None:
        pytest.skip("planner statistics are PostgreSQL's")
    base, _, _ = postgres_url.rpartition("/")
    name = f"statistics_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(postgres_url)
    try:
        if await admin.fetchval("SELECT current_setting('autovacuum') = 'on'"):
            pytest.skip("this cluster's autovacuum keeps its tables; the keeper leaves them to it")
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"{base}/{name}"
        finally:
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def eventually(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    for _ in range(200):
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never: {what}")


def analyzed(conn: asyncpg.Connection, rows: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await reltuples(conn, "probe") == rows

    return check


def leads(keeper: StatisticsKeeper) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return keeper.leading

    return check


async def test_the_keeper_analyzes_in_the_background_without_autovacuum(own_database):
    conn = await asyncpg.connect(own_database)
    keeper = StatisticsKeeper(own_database, interval=0.05)
    try:
        await conn.execute("CREATE TABLE probe (n int)")
        keeper.start()
        await insert(conn, "probe", 300)
        await eventually(analyzed(conn, 300), "the table analyzed")
        assert keeper.leading
    finally:
        await keeper.close()
        await conn.close()


async def test_one_process_per_database_keeps_its_tables(own_database):
    """The first keeper to take the upkeep lock keeps it; another takes over only when it stops."""
    conn = await asyncpg.connect(own_database)
    first = StatisticsKeeper(own_database, interval=0.05)
    second = StatisticsKeeper(own_database, interval=0.05)

    async def holders() -> int:
        return await conn.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                                   "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")

    try:
        await conn.execute("CREATE TABLE probe (n int)")
        first.start()
        await eventually(leads(first), "the first keeper leads")
        second.start()
        await asyncio.sleep(0.5)  # ten looks by the second
        assert not second.leading
        assert await holders() == 1

        await insert(conn, "probe", 200)
        await eventually(analyzed(conn, 200), "the table analyzed by the first keeper")

        await first.close()  # its lock goes with its connection
        await eventually(leads(second), "the second keeper takes over")
        assert not first.leading
        await insert(conn, "probe", 100)
        await eventually(analyzed(conn, 300), "the table analyzed by the second keeper")
        assert await holders() == 1
    finally:
        await first.close()
        await second.close()
        await conn.close()


async def test_a_keeper_leaves_the_tables_while_another_process_holds_the_lock(own_database):
    conn = await asyncpg.connect(own_database)
    other = await asyncpg.connect(own_database)
    keeper = StatisticsKeeper(own_database, interval=0.05)
    try:
        await conn.execute("CREATE TABLE probe (n int)")
        await other.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)  # another process keeps the tables
        keeper.start()
        await insert(conn, "probe", 500)
        await changed_since_analysis(conn, "probe", 500)
        await asyncio.sleep(0.5)
        assert not keeper.leading
        assert await reltuples(conn, "probe") <= 0
        await other.close()
        await eventually(analyzed(conn, 500), "the table analyzed once the lock was free")
        assert keeper.leading
    finally:
        await keeper.close()
        await other.close()
        await conn.close()


def statistics_targets(url: str) -> dict[str, int]:
    async def read() -> dict[str, int]:
        conn = await asyncpg.connect(url)
        try:
            return dict(await conn.fetch("SELECT stxname, stxstattarget FROM pg_statistic_ext "
                                         "WHERE stxname IN ('st_search_token', 'st_search_reference')"))
        finally:
            await conn.close()

    return asyncio.run(read())


def test_the_token_and_reference_statistics_sample_250_targets(postgres_url):
    """Migration 0012: a tenth of the rows 0002's target of 1000 had ANALYZE sort; a downgrade restores it."""
    if postgres_url is None:
        pytest.skip("extended statistics are PostgreSQL's")
    assert statistics_targets(postgres_url) == {"st_search_token": 250, "st_search_reference": 250}
    url = Settings(database_url=postgres_url).sqlalchemy_url
    command.downgrade(migrate.alembic_config(url), "0011")
    try:
        assert statistics_targets(postgres_url) == {"st_search_token": 1000, "st_search_reference": 1000}
    finally:
        migrate.upgrade(url)
    assert statistics_targets(postgres_url) == {"st_search_token": 250, "st_search_reference": 250}


def test_upkeep_rests_nine_times_as_long_as_its_last_round_took():
    """A round of a few seconds (a million-resource database under a bulk load) spaces the next look
    beyond `interval`; rounds of milliseconds (a new database) leave it at `interval`."""
    assert pause(30.0, 0.004) == 30.0
    assert pause(30.0, 0.0) == 30.0
    assert pause(30.0, 6.0) == 54.0
    assert pause(0.05, 0.1) == pytest.approx(0.9)


def statistics_kinds(url: str) -> dict[str, tuple[str, int]]:
    async def read() -> dict[str, tuple[str, int]]:
        conn = await asyncpg.connect(url)
        try:
            rows = await conn.fetch("SELECT stxname, array_to_string(stxkind, ''), stxstattarget FROM pg_statistic_ext "
                                    "WHERE stxname LIKE 'st\\_search\\_%'")
            return {name: (kinds, target) for name, kinds, target in rows}
        finally:
            await conn.close()

    return asyncio.run(read())


def test_the_search_statistics_keep_the_common_combinations_without_dependencies(postgres_url):
    """Migration 0021: the planner estimates the search tables' criteria from the lists of common
    combinations, so the functional dependencies (most of an ANALYZE of `search_token`) go; the
    targets stay. A downgrade makes them again."""
    if postgres_url is None:
        pytest.skip("extended statistics are PostgreSQL's")
    tables = ("token", "reference", "quantity", "string", "date", "number", "uri")
    targets = {"st_search_token": 250, "st_search_reference": 250}
    assert statistics_kinds(postgres_url) == {f"st_search_{t}": ("m", targets.get(f"st_search_{t}", -1)) for t in tables}
    url = Settings(database_url=postgres_url).sqlalchemy_url
    command.downgrade(migrate.alembic_config(url), "0020")
    try:
        assert statistics_kinds(postgres_url) == {
            f"st_search_{t}": ("fm", targets.get(f"st_search_{t}", -1)) for t in tables}
    finally:
        migrate.upgrade(url)
    assert statistics_kinds(postgres_url) == {f"st_search_{t}": ("m", targets.get(f"st_search_{t}", -1)) for t in tables}
