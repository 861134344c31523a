"""The `audit_log` table: AuditEvents appended as they are recorded, taken off in batches.

Bodies are sealed with the keyring (AES-256-GCM) bound to `audit_log/<event_id>`, since they name
patients and queries. Rows stay here only until they are materialized: the batch that turns them
into AuditEvent resources deletes them in the same transaction (`take` then `remove`), so each
event becomes a resource exactly once. A cursor over `pk` could not promise that on PostgreSQL,
where concurrent transactions commit in another order than their pks were drawn.

Nothing here commits: every method runs in the caller's transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from fhir_server.storage.crypto import Keyring
from fhir_server.storage.instants import now_micros
from fhir_server.storage.repository import ResourceStore, Tx

__all__ = ["AuditLogStore", "LoggedEvent", "new_event_id"]

_PG_APPEND = ("INSERT INTO audit_log (event_id, recorded, body) "
              "SELECT * FROM unnest($1::text[], $2::int8[], $3::bytea[])")
_SQLITE_APPEND = "INSERT INTO audit_log (event_id, recorded, body) VALUES ($1, $2, $3)"
_AFTER = "SELECT pk, event_id, body FROM audit_log WHERE pk > $1 ORDER BY pk LIMIT $2"
_RESEAL = "UPDATE audit_log SET body = $1 WHERE pk = $2"
_TAKE = "SELECT pk, event_id, recorded, body FROM audit_log ORDER BY pk LIMIT $1"
# rows another materializer holds are skipped, not waited for: it removes them when it commits
_PG_TAKE = _TAKE + " FOR UPDATE SKIP LOCKED"
_PG_REMOVE = "DELETE FROM audit_log WHERE pk = ANY($1::int8[])"
# SQLite's write transaction is exclusive: what `take` read is exactly the rows up to its last pk
_SQLITE_REMOVE = "DELETE FROM audit_log WHERE pk <= $1"


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """One row, its body opened: the AuditEvent's JSON (without an id; the id is `event_id`)."""

    pk: int
    event_id: str
    recorded: int
    body: bytes


def new_event_id() -> str:
    return str(uuid.uuid4())


def _aad(event_id: str) -> bytes:
    return f"audit_log/{event_id}".encode()


class AuditLogStore:
    def __init__(self, store: ResourceStore) -> None:
        self.store = store

    @property
    def keyring(self) -> Keyring:
        return self.store.keyring

    async def append(self, tx: Tx, bodies: Sequence[bytes]) -> list[str]:
        """Append the serialised events (one statement for all of them); returns their event ids."""
        if not bodies:
            return []
        at = now_micros()
        ids = [new_event_id() for _ in bodies]
        sealed = [self.keyring.seal(body, _aad(event_id)) for event_id, body in zip(ids, bodies, strict=True)]
        if self.store.is_sqlite:
            await tx.db.executemany(_SQLITE_APPEND, [(event_id, at, body) for event_id, body in zip(ids, sealed,
                                                                                                     strict=True)])
        else:
            await tx.db.execute(_PG_APPEND, ids, [at] * len(ids), sealed)
        return ids

    async def take(self, tx: Tx, limit: int) -> list[LoggedEvent]:
        """The oldest `limit` rows no other transaction holds, locked until `tx` ends (PostgreSQL)."""
        rows = await tx.db.fetch(_TAKE if self.store.is_sqlite else _PG_TAKE, limit)
        return [LoggedEvent(pk, event_id, recorded, self.keyring.open(bytes(body), _aad(event_id)))
                for pk, event_id, recorded, body in rows]

    async def remove(self, tx: Tx, taken: Sequence[LoggedEvent]) -> None:
        """Delete rows `take` returned in this same transaction."""
        if not taken:
            return
        if self.store.is_sqlite:
            await tx.db.execute(_SQLITE_REMOVE, max(event.pk for event in taken))
        else:
            await tx.db.execute(_PG_REMOVE, [event.pk for event in taken])

    async def pending(self) -> int:
        """How many events await materialization (committed ones)."""
        async with self.store.single() as db:
            return int(await db.fetchval("SELECT count(*) FROM audit_log"))

    async def reseal(self, batch_size: int = 500) -> int:
        """Seal the events still waiting with the keyring's active key (after `keys rotate`, before the
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
