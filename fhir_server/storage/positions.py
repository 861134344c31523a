"""Named positions of long-running readers, on the `consumer_offsets` table.

A bulk import records how far it has read each file (byte offset, line) here, in the same
transaction as the batch it just wrote, so after an interruption it resumes exactly after the last
committed batch. Names are at most 64 characters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from fhir_server.storage.repository import ResourceStore, Tx

__all__ = ["Positions"]

_UPSERT = ("INSERT INTO consumer_offsets (name, position) VALUES ($1, $2) "
           "ON CONFLICT (name) DO UPDATE SET position = excluded.position")


class Positions:
    def __init__(self, store: ResourceStore) -> None:
        self.store = store

    async def get(self, names: Sequence[str], tx: Tx | None = None) -> dict[str, int]:
        """The positions of those `names` that are set."""
        if not names:
            return {}
        marks = ", ".join(f"${n}" for n in range(1, len(names) + 1))
        sql = f"SELECT name, position FROM consumer_offsets WHERE name IN ({marks})"
        if tx is not None:
            rows = await tx.db.fetch(sql, *names)
        else:
            async with self.store.single() as db:
                rows = await db.fetch(sql, *names)
        return {name: position for name, position in rows}

    async def set(self, tx: Tx, positions: Mapping[str, int]) -> None:
        for name, position in positions.items():
            if len(name) > 64:
                raise ValueError(f"position name '{name}' is longer than 64 characters")
            await tx.db.execute(_UPSERT, name, position)

    async def clear(self, tx: Tx, prefix: str) -> None:
        """Forget every position whose name starts with `prefix`."""
        await tx.db.execute("DELETE FROM consumer_offsets WHERE substr(name, 1, $1) = $2", len(prefix), prefix)
