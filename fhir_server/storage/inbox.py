"""Durable storage of messages received from outside systems, before they are acknowledged.

Generic over the door a message comes through (`channel`): the HL7 v2 gateway adapts it to its own
`Inbox` contract. Raw bytes are sealed with the keyring (AES-256-GCM, bound to the row's channel
and id) since they carry patient data. Every method commits before it returns.
"""

from __future__ import annotations

from dataclasses import dataclass

from fhir_server.storage.crypto import Keyring
from fhir_server.storage.instants import now_micros
from fhir_server.storage.repository import ResourceStore

__all__ = ["InboxRecord", "InboxStore"]

_COLUMNS = "pk, channel, received_at, sender, control_id, peer, message_type, raw, status, outcome, attempts"


@dataclass(frozen=True, slots=True)
class InboxRecord:
    pk: int
    channel: str
    received_at: int
    sender: str
    control_id: str | None
    peer: str
    message_type: str
    raw: bytes
    status: str
    outcome: str | None
    attempts: int


def _aad(channel: str, pk: int) -> bytes:
    return f"inbox/{channel}/{pk}".encode()


class InboxStore:
    def __init__(self, store: ResourceStore) -> None:
        self.store = store

    @property
    def keyring(self) -> Keyring:
        return self.store.keyring

    async def add(self, *, channel: str, received_at: int, sender: str, control_id: str | None, peer: str,
                  message_type: str, raw: bytes) -> int:
        """Commit a received message (status `received`) and return its id."""
        now = now_micros()
        async with self.store.write() as tx:
            pk = await tx.db.fetchval(
                "INSERT INTO inbox_messages (channel, received_at, sender, control_id, peer, message_type, raw, "
                "status, attempts, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'received', 0, $8) RETURNING pk",
                channel, received_at, sender, control_id, peer, message_type, b"", now)
            # the ciphertext is bound to the row's id, known only once the row exists
            await tx.db.execute("UPDATE inbox_messages SET raw = $1 WHERE pk = $2",
                                self.keyring.seal(raw, _aad(channel, pk)), pk)
        return pk

    async def record(self, pk: int, *, status: str, outcome: str | None) -> None:
        async with self.store.write() as tx:
            await tx.db.execute("UPDATE inbox_messages SET status = $1, outcome = $2, attempts = attempts + 1, "
                                "updated_at = $3 WHERE pk = $4", status, outcome, now_micros(), pk)

    async def find(self, *, channel: str, sender: str, control_id: str, before: int) -> InboxRecord | None:
        """The earliest message from `sender` with `control_id` stored before id `before`."""
        async with self.store.single() as db:
            row = await db.fetchrow(
                f"SELECT {_COLUMNS} FROM inbox_messages WHERE channel = $1 AND sender = $2 AND control_id = $3 "
                "AND pk < $4 ORDER BY pk LIMIT 1", channel, sender, control_id, before)
        return None if row is None else self._record(row)

    async def unfinished(self, *, channel: str, limit: int) -> list[InboxRecord]:
        async with self.store.single() as db:
            rows = await db.fetch(
                f"SELECT {_COLUMNS} FROM inbox_messages WHERE channel = $1 AND status IN ('received', 'failed') "
                "ORDER BY pk LIMIT $2", channel, limit)
        return [self._record(row) for row in rows]

    async def list(self, *, channel: str, status: str | None, limit: int, before: int | None) -> list[InboxRecord]:
        sql = f"SELECT {_COLUMNS} FROM inbox_messages WHERE channel = $1 AND pk < $2"
        args: list[object] = [channel, before if before is not None else 2**62]
        if status is not None:
            sql += " AND status = $3"
            args.append(status)
        sql += f" ORDER BY pk DESC LIMIT ${len(args) + 1}"
        async with self.store.single() as db:
            rows = await db.fetch(sql, *args, limit)
        return [self._record(row) for row in rows]

    async def get(self, pk: int) -> InboxRecord | None:
        async with self.store.single() as db:
            row = await db.fetchrow(f"SELECT {_COLUMNS} FROM inbox_messages WHERE pk = $1", pk)
        return None if row is None else self._record(row)

    def _record(self, row: object) -> InboxRecord:
        pk, channel, received_at, sender, control_id, peer, message_type, raw, status, outcome, attempts = row  # type: ignore[misc]
        return InboxRecord(pk, channel, received_at, sender, control_id, peer, message_type,
                           self.keyring.open(bytes(raw), _aad(channel, pk)), status, outcome, attempts)
