"""Durable storage of messages received from outside systems, before they are acknowledged.

Generic over the door a message comes through (`channel`): the HL7 v2 gateway adapts it to its own
`Inbox` contract. Raw bytes are sealed with the keyring (AES-256-GCM, bound to the row's channel
and id) since they carry patient data. Every method commits before it returns, except the `*_in(tx, ...)`
ones, which run inside a transaction the caller owns (e.g. the one that files a message's resources,
so the resources and the record of the message's outcome commit together).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from fhir_server.storage.crypto import Keyring
from fhir_server.storage.instants import now_micros
from fhir_server.storage.repository import ResourceStore, Tx

__all__ = ["InboxRecord", "InboxStore"]

_COLUMNS = ("pk, channel, received_at, sender, control_id, peer, message_type, raw, status, outcome, attempts, "
            "updated_at")


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
    updated_at: int


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
        if not self.store.is_sqlite:
            # the id first, so the row goes in sealed by one INSERT that commits on its own: two round
            # trips instead of BEGIN, INSERT, UPDATE and COMMIT
            async with self.store.single() as db:
                pk = await db.fetchval("SELECT nextval('inbox_messages_pk_seq')")
                await db.execute(
                    "INSERT INTO inbox_messages (pk, channel, received_at, sender, control_id, peer, message_type, "
                    "raw, status, attempts, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'received', 0, $9)",
                    pk, channel, received_at, sender, control_id, peer, message_type,
                    self.keyring.seal(raw, _aad(channel, pk)), now)
            return int(pk)
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
            await self.record_in(tx, pk, status=status, outcome=outcome)

    async def record_in(self, tx: Tx, pk: int, *, status: str, outcome: str | None,
                        unless: Collection[str] = ()) -> bool:
        """Record how processing ended (and count an attempt) inside `tx`, unless the message's status
        is already one of `unless`; False when it was (nothing is changed then)."""
        sql = "UPDATE inbox_messages SET status = $1, outcome = $2, attempts = attempts + 1, updated_at = $3 WHERE pk = $4"
        args: list[object] = [status, outcome, now_micros(), pk]
        if unless:
            # on PostgreSQL a concurrent writer of the same row makes this wait and then see its commit
            sql += f" AND status NOT IN ({', '.join(f'${n}' for n in range(5, 5 + len(unless)))})"
            args.extend(sorted(unless))
        # the transaction's deferred appends (its audit record) go with it: one round trip
        return await tx.fetchval_carrying(sql + " RETURNING pk", *args) is not None

    async def find(self, *, channel: str, sender: str, control_id: str, before: int) -> InboxRecord | None:
        """The earliest message from `sender` with `control_id` stored before id `before`."""
        async with self.store.single() as db:
            row = await db.fetchrow(
                f"SELECT {_COLUMNS} FROM inbox_messages WHERE channel = $1 AND sender = $2 AND control_id = $3 "
                "AND pk < $4 ORDER BY pk LIMIT 1", channel, sender, control_id, before)
        return None if row is None else self._record(row)

    async def unfinished(self, *, channel: str, limit: int, statuses: Collection[str] = ("received", "failed"),
                         max_attempts: int | None = None) -> list[InboxRecord]:
        """Messages of the given statuses, oldest first; with `max_attempts`, only those tried fewer times."""
        names = sorted(statuses)
        sql = (f"SELECT {_COLUMNS} FROM inbox_messages WHERE channel = $1 "
               f"AND status IN ({', '.join(f'${n}' for n in range(2, 2 + len(names)))})")
        args: list[object] = [channel, *names]
        if max_attempts is not None:
            args.append(max_attempts)
            sql += f" AND attempts < ${len(args)}"
        args.append(limit)
        async with self.store.single() as db:
            rows = await db.fetch(sql + f" ORDER BY pk LIMIT ${len(args)}", *args)
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
        pk, channel, received_at, sender, control_id, peer, message_type, raw, status, outcome, attempts, updated_at = row  # type: ignore[misc]
        return InboxRecord(pk, channel, received_at, sender, control_id, peer, message_type,
                           self.keyring.open(bytes(raw), _aad(channel, pk)), status, outcome, attempts, updated_at)
