"""Waking the workers when a job is queued, rather than at their next poll.

A job is queued in the transaction of the write that causes it, so a worker must look for it only
once that transaction has committed (and not at all if it rolls back):

The enqueue asks its transaction for a wake-up after commit (`signal_on_commit`, once per kind per
transaction), so a rollback wakes nobody and the signal never slows the commit itself:

- PostgreSQL: `pg_notify('fhir_jobs', kind)` to every listening process, this one included, sent with
  the COMMIT in its round trip and run after it (`Tx.notify_on_commit`). (Run inside the enqueuing
  transaction instead, it would make every such commit take PostgreSQL's notify lock through its
  WAL flush, one at a time.) Each process LISTENs on one connection taken from its pool while a
  worker runs in it.
- SQLite (the embedded default, one process): the waiting workers' events in this process are set,
  after the commit (`Tx.on_commit`).

Polling stays the fallback: a worker in another process on SQLite, a LISTEN connection that was lost,
delayed retries (`run_after`) and expired leases are all found at the next poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Collection
from typing import Any

from fhir_server.background import stop
from fhir_server.storage.driver import Driver
from fhir_server.storage.repository import AfterCommit, ResourceStore, Tx

__all__ = ["CHANNEL", "Wakeups"]

CHANNEL = "fhir_jobs"
RECONNECT_SECONDS = 1.0

log = logging.getLogger("fhir_server.worker")


class Wakeups:
    """One process's wake-up signals: the enqueue side (`committed`) and the workers' side (`listening`)."""

    def __init__(self, store: ResourceStore) -> None:
        self.store = store
        self._waiting: list[tuple[frozenset[str], asyncio.Event]] = []
        self._listener: asyncio.Task[None] | None = None
        # set while a LISTEN connection is open (PostgreSQL)
        self.connected = asyncio.Event()

    @property
    def in_database(self) -> bool:
        """Whether the signal travels through the database (PostgreSQL NOTIFY) rather than this process."""
        return not self.store.is_sqlite

    def signal_on_commit(self, tx: Tx, kind: str) -> None:
        """Wake the workers of `kind` once `tx`, which queued a job of it, has committed."""
        if self.in_database:
            tx.notify_on_commit(CHANNEL, kind)
        else:
            tx.on_commit(f"wake:{kind}", self._committed(kind))

    def _committed(self, kind: str) -> AfterCommit:
        async def wake(_db: Driver) -> None:
            self._wake(kind)

        return wake

    @contextlib.asynccontextmanager
    async def listening(self, kinds: Collection[str], event: asyncio.Event) -> AsyncIterator[None]:
        """Set `event` whenever a job of one of `kinds` is queued, while the block runs."""
        entry = (frozenset(kinds), event)
        self._waiting.append(entry)
        if self.in_database and self._listener is None:
            self._listener = asyncio.create_task(self._listen())
        try:
            yield
        finally:
            self._waiting.remove(entry)
            if not self._waiting and self._listener is not None:
                listener, self._listener = self._listener, None
                await stop(listener)

    def _wake(self, kind: str | None) -> None:
        for kinds, event in self._waiting:
            if kind is None or kind in kinds:
                event.set()

    def _on_notify(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        self._wake(payload)

    async def _listen(self) -> None:
        """Keep one LISTEN connection open, opening another after a loss (the polls cover the gap)."""
        while True:
            try:
                async with self.store.pg_pool.acquire() as connection:
                    await self._listen_on(connection)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database went away: poll until it is back
                log.warning("job wake-ups: LISTEN %s failed (%s); polling meanwhile", CHANNEL, exc)
            self._wake(None)  # whatever was queued while not listening
            await asyncio.sleep(RECONNECT_SECONDS)

    async def _listen_on(self, connection: Any) -> None:
        """LISTEN on `connection` until it is lost (or the task is cancelled)."""
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _connection: lost.set())
        await connection.add_listener(CHANNEL, self._on_notify)
        self.connected.set()
        try:
            await lost.wait()
        finally:
            self.connected.clear()
            if not lost.is_set():
                # the pool does not reset connections: UNLISTEN before it is handed out again
                await connection.remove_listener(CHANNEL, self._on_notify)
