"""Deferred writes: sent with a later statement or before the commit, and only if the transaction commits."""

from __future__ import annotations

import pytest

from fhir_server.storage.deferred import carrying, together

TABLE = "CREATE TABLE IF NOT EXISTS deferred_test (n int8 PRIMARY KEY, label text)"
INSERT = "INSERT INTO deferred_test (n, label) VALUES ($1, $2)"


def test_the_carried_writes_go_in_front_with_their_parameters_renumbered() -> None:
    sql, values = carrying("UPDATE t SET a = $1 WHERE pk = $2 RETURNING pk", (7, 8),
                           [(INSERT, (1, "one")), ("INSERT INTO u (a, b, c) VALUES ($1, $2, $1 + $3)", (2, 3, 4))])
    assert sql == ("WITH deferred_0 AS (INSERT INTO deferred_test (n, label) VALUES ($3, $4)), "
                   "deferred_1 AS (INSERT INTO u (a, b, c) VALUES ($5, $6, $5 + $7)) "
                   "UPDATE t SET a = $1 WHERE pk = $2 RETURNING pk")
    assert values == [7, 8, 1, "one", 2, 3, 4]


def test_nothing_deferred_leaves_the_statement_as_it_is() -> None:
    assert carrying("SELECT $1", (1,), []) == ("SELECT $1", [1])
    assert together([(INSERT, (1, "one"))]) == (INSERT, [1, "one"])


def test_a_statement_with_its_own_with_clause_cannot_carry() -> None:
    with pytest.raises(ValueError):
        carrying("WITH x AS (SELECT 1) SELECT * FROM x", (), [(INSERT, (1, "one"))])


async def labels(runtime) -> list[tuple[int, str]]:
    async with runtime.store.single() as db:
        return [tuple(row) for row in await db.fetch("SELECT n, label FROM deferred_test ORDER BY n")]


@pytest.fixture
async def table(runtime):
    async with runtime.store.write() as tx:
        await tx.db.execute(TABLE)
        await tx.db.execute("DELETE FROM deferred_test")
    yield
    async with runtime.store.write() as tx:
        await tx.db.execute("DROP TABLE deferred_test")


async def test_deferred_writes_ride_on_the_carrying_statement(runtime, table) -> None:
    async with runtime.store.write() as tx:
        await tx.defer(INSERT, 1, "one")
        await tx.defer(INSERT, 2, "two")
        if runtime.store.is_sqlite:  # in process: run at once
            assert tx.deferred == []
        else:
            assert len(tx.deferred) == 2
        assert await tx.fetchval_carrying("SELECT $1 + 1", 41) == 42
        assert tx.deferred == []
    assert await labels(runtime) == [(1, "one"), (2, "two")]


async def test_writes_nothing_carried_are_sent_before_the_commit(runtime, table) -> None:
    async with runtime.store.write() as tx:
        await tx.defer(INSERT, 3, "three")
        await tx.defer(INSERT, 4, "four")
    async with runtime.store.write() as tx:
        await tx.defer(INSERT, 5, "five")
    assert await labels(runtime) == [(3, "three"), (4, "four"), (5, "five")]


async def test_a_rolled_back_transaction_sends_none_of_its_deferred_writes(runtime, table) -> None:
    with pytest.raises(RuntimeError):
        async with runtime.store.write() as tx:
            await tx.defer(INSERT, 6, "six")
            raise RuntimeError("the write failed")
    assert await labels(runtime) == []


async def test_a_deferred_write_that_fails_fails_its_transaction(runtime, table) -> None:
    async with runtime.store.write() as tx:
        await tx.db.execute(INSERT, 7, "seven")
    with pytest.raises(Exception, match="(?i)unique|duplicate"):
        async with runtime.store.write() as tx:
            await tx.db.execute(INSERT, 8, "eight")
            await tx.defer(INSERT, 7, "again")
    assert await labels(runtime) == [(7, "seven")]
