"""Notifications sent with a transaction's COMMIT: after it, never after a rollback, once per pair."""

from __future__ import annotations

import asyncio

import pytest

from fhir_server.storage.driver import ConcurrentWrite

pytestmark = pytest.mark.parametrize("backend", ["postgresql"])  # SQLite has no NOTIFY
CHANNELS = ("test_a", "test_b")


async def received_after(runtime, work) -> list[tuple[str, str]]:
    """The notifications another connection receives while `work()` runs (and shortly after)."""
    got: list[tuple[str, str]] = []

    def heard(_connection: object, _pid: int, channel: str, payload: str) -> None:
        got.append((channel, payload))

    async with runtime.store.pg_pool.acquire() as listener:
        for channel in CHANNELS:
            await listener.add_listener(channel, heard)
        try:
            await work()
            await asyncio.sleep(0.3)
        finally:
            for channel in CHANNELS:
                await listener.remove_listener(channel, heard)
    return got


async def test_notifications_follow_the_commit_once_per_pair(runtime) -> None:
    async def work() -> None:
        async with runtime.store.write() as tx:
            tx.notify_on_commit("test_a", "one")
            tx.notify_on_commit("test_a", "one")
            tx.notify_on_commit("test_b", "two:kind.x")
            await tx.db.execute("SELECT 1")

    assert sorted(await received_after(runtime, work)) == [("test_a", "one"), ("test_b", "two:kind.x")]


async def test_a_rolled_back_transaction_notifies_nobody(runtime) -> None:
    async def work() -> None:
        with pytest.raises(RuntimeError):
            async with runtime.store.write() as tx:
                tx.notify_on_commit("test_a", "never")
                raise RuntimeError("the write failed")

    assert await received_after(runtime, work) == []


async def test_a_failed_commit_notifies_nobody(runtime) -> None:
    async def work() -> None:
        with pytest.raises(ConcurrentWrite):
            async with runtime.store.write() as tx:
                # checked at COMMIT: the commit fails, and what follows it in the round trip is not run
                await tx.db.execute("CREATE TEMP TABLE deferred_check (n int UNIQUE DEFERRABLE INITIALLY DEFERRED) "
                                    "ON COMMIT DROP")
                await tx.db.execute("INSERT INTO deferred_check VALUES (1), (1)")
                tx.notify_on_commit("test_a", "after-a-failed-commit")

    assert await received_after(runtime, work) == []


async def test_only_plain_names_go_into_the_sql(runtime) -> None:
    async with runtime.store.write() as tx:
        with pytest.raises(ValueError):
            tx.notify_on_commit("test_a", "x'); DROP TABLE resources; --")
