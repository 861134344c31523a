"""The `audit_log` table: AuditEvents appended as they are recorded, taken off in batches.

A row holds a group: every event one append was given (a group commit's readers, a write's events),
serialised together, zlib-compressed (events of one group repeat their agents and codings) and
sealed with the keyring (AES-256-GCM) bound to `audit_log/<row id>`, since they name patients and
queries. An access thus costs a share of one row, not a row of its own. Event `n` of row `R` becomes
the AuditEvent with id `R.n`. (Rows of earlier releases hold one event's JSON, the resource id being
the row id; they are read the same way.)

Rows stay here only until they are materialized: the batch that turns them into AuditEvent
resources deletes them in the same transaction (`take` then `remove`), so each event becomes a
resource exactly once. A cursor over `pk` could not promise that on PostgreSQL, where concurrent
transactions commit in another order than their pks were drawn.

Nothing here commits: every method runs in the caller's transaction.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from fhir_server.ids import new_id
from fhir_server.storage.crypto import Keyring
from fhir_server.storage.instants import now_micros
from fhir_server.storage.repository import ResourceStore, Tx

__all__ = ["AuditLogStore", "LoggedEvent"]

_APPEND = "INSERT INTO audit_log (event_id, recorded, body) VALUES ($1, $2, $3)"
_ALL = "SELECT event_id, body FROM audit_log"
_AFTER = "SELECT pk, event_id, body FROM audit_log WHERE pk > $1 ORDER BY pk LIMIT $2"
_RESEAL = "UPDATE audit_log SET body = $1 WHERE pk = $2"
_TAKE = "SELECT pk, event_id, recorded, body FROM audit_log WHERE pk > $1 ORDER BY pk LIMIT $2"
# rows another materializer holds are skipped, not waited for: it removes them when it commits
_PG_TAKE = _TAKE + " FOR UPDATE SKIP LOCKED"
_PG_REMOVE = "DELETE FROM audit_log WHERE pk = ANY($1::int8[])"
# SQLite's write transaction is exclusive: what `take` read is exactly the rows up to its last pk
_SQLITE_REMOVE = "DELETE FROM audit_log WHERE pk <= $1"
_GROUP = b"G1"  # the body of a group row starts with this, then the zlib stream
_ROWS_PER_LOOK = 16


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """One event of a row, opened: its AuditEvent (without an id; the id is `event_id`)."""

    pk: int
    event_id: str
    recorded: int
    resource: dict[str, Any]


def _aad(row_id: str) -> bytes:
    return f"audit_log/{row_id}".encode()


def _packed(events: Sequence[dict[str, Any]]) -> bytes:
    return _GROUP + zlib.compress(orjson.dumps(events), 1)


def _unpacked(row_id: str, plain: bytes) -> list[tuple[str, dict[str, Any]]]:
    """The (AuditEvent id, event) pairs of one row's opened body."""
    if plain.startswith(_GROUP):
        return [(f"{row_id}.{n}", event) for n, event in enumerate(orjson.loads(zlib.decompress(plain[2:])))]
    return [(row_id, orjson.loads(plain))]


class AuditLogStore:
    def __init__(self, store: ResourceStore) -> None:
        self.store = store

    @property
    def keyring(self) -> Keyring:
        return self.store.keyring

    async def append(self, tx: Tx, events: Sequence[dict[str, Any]], *, later: bool = False) -> list[str]:
        """Append the events as one row; returns the ids their AuditEvents will have. `later`: with the
        transaction's next statement that carries deferred writes, or before its commit (`Tx.defer`)."""
        if not events:
            return []
        row_id = new_id()
        args = (row_id, now_micros(), self.keyring.seal(_packed(events), _aad(row_id)))
        await (tx.defer(_APPEND, *args) if later else tx.db.execute(_APPEND, *args))
        return [f"{row_id}.{n}" for n in range(len(events))]

    def _open(self, row_id: str, body: Any) -> list[tuple[str, dict[str, Any]]]:
        return _unpacked(row_id, self.keyring.open(bytes(body), _aad(row_id)))

    async def take(self, tx: Tx, limit: int) -> list[LoggedEvent]:
        """The events of the oldest rows no other transaction holds, whole rows until at least `limit`
        events (or the log's end), locked until `tx` ends (PostgreSQL)."""
        taken: list[LoggedEvent] = []
        last = 0
        while len(taken) < limit:
            rows = await tx.db.fetch(_TAKE if self.store.is_sqlite else _PG_TAKE, last, _ROWS_PER_LOOK)
            for pk, row_id, recorded, body in rows:
                if len(taken) >= limit:
                    break  # left locked until `tx` ends: another materializer takes it next time
                taken.extend(LoggedEvent(pk, event_id, recorded, event) for event_id, event in self._open(row_id, body))
                last = pk
            if len(rows) < _ROWS_PER_LOOK:
                break
        return taken

    async def remove(self, tx: Tx, taken: Sequence[LoggedEvent]) -> None:
        """Delete the rows `take` returned in this same transaction."""
        if not taken:
            return
        if self.store.is_sqlite:
            await tx.db.execute(_SQLITE_REMOVE, max(event.pk for event in taken))
        else:
            await tx.db.execute(_PG_REMOVE, sorted({event.pk for event in taken}))

    async def has_pending(self) -> bool:
        """Whether any committed event awaits materialization."""
        async with self.store.single() as db:
            return bool(await db.fetchval("SELECT EXISTS (SELECT 1 FROM audit_log)"))

    async def pending(self) -> int:
        """How many committed events await materialization (opens every row: for tests and benchmarks)."""
        async with self.store.single() as db:
            rows = await db.fetch(_ALL)
        return sum(len(self._open(row_id, body)) for row_id, body in rows)

    async def waiting(self) -> list[dict[str, Any]]:
        """Every committed event awaiting materialization, opened (for tests and operators)."""
        async with self.store.single() as db:
            rows = await db.fetch(_ALL + " ORDER BY pk")
        return [event for row_id, body in rows for _, event in self._open(row_id, body)]

    async def reseal(self, batch_size: int = 500) -> int:
        """Seal the rows still waiting with the keyring's active key (after `keys rotate`, before the
        old key is retired); returns how many were sealed again."""
        resealed, last = 0, 0
        while True:
            async with self.store.write() as tx:
                rows = await tx.db.fetch(_AFTER, last, batch_size)
                for pk, event_id, body in rows:
                    body = bytes(body)
                    if self.keyring.sealed_with_active(body):
                        continue
                    aad = _aad(event_id)
                    await tx.db.execute(_RESEAL, self.keyring.seal(self.keyring.open(body, aad), aad), pk)
                    resealed += 1
            if len(rows) < batch_size:
                return resealed
            last = rows[-1][0]
