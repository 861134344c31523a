"""Loading many new resources at once on PostgreSQL: rows arrive encoded for binary COPY and go in with
one COPY per table, inside the caller's transaction.

    loader = BulkLoad(store)
    pks = await loader.reserve_pks(1000)                 # before staging: workers put them in the rows
    async with store.write() as tx:
        stored = await loader.existing(tx, keys)          # these are not new: the service path writes them
        await loader.copy(tx, rows)                       # `BulkRows`: resources, versions, outbox, index rows

Only version 1 of resources that do not exist yet is written here; updates, deletes and everything
else go through `BatchStore` (the service layer's write path). The rows are the ones that path writes
— bodies sealed by `seal`, index rows in the store's column order — so a loaded resource cannot be
told from a created one. Primary keys come from the `resources` sequence ahead of the transaction,
so a rolled-back batch only leaves a gap, as any rolled-back insert does.

Every row copied here references a `resources` row copied just before it in the same transaction;
the tables have no foreign keys or triggers to check that (migration 0011). Nothing commits here.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import asyncpg

from fhir_server.db.tables import SEARCH_INDEX_TABLES, outbox, resource_versions, resources
from fhir_server.storage.batch import PG_KEY_PROBE
from fhir_server.storage.copy_binary import CopyLayout, column_type, copy_payload
from fhir_server.storage.driver import AsyncpgDriver, ConcurrentWrite
from fhir_server.storage.repository import ResourceStore, Tx

__all__ = ["BulkLoad", "BulkRows", "RESOURCE_ROW", "VERSION_ROW", "OUTBOX_ROW", "INDEX_ROWS", "INDEX_COLUMNS"]

Key = tuple[str, str]

RESOURCE_COLUMNS = ("pk", "res_type", "res_id", "version_id", "last_updated", "deleted", "body")
VERSION_COLUMNS = ("resource_pk", "res_type", "res_id", "version_id", "last_updated", "deleted", "method", "body")
OUTBOX_COLUMNS = ("created_at", "res_type", "res_id", "version_id", "action")
# an index row as `batch.index_tuples` gives it, after the resource pk and type
INDEX_COLUMNS = {kind: tuple(c.name for c in t.columns if c.name not in ("pk", "resource_pk", "res_type"))
                 for kind, t in SEARCH_INDEX_TABLES.items()}
_INDEX_COPY_COLUMNS = {kind: ("resource_pk", "res_type", *columns) for kind, columns in INDEX_COLUMNS.items()}

RESOURCE_ROW = CopyLayout([column_type(resources, c) for c in RESOURCE_COLUMNS])
VERSION_ROW = CopyLayout([column_type(resource_versions, c) for c in VERSION_COLUMNS])
OUTBOX_ROW = CopyLayout([column_type(outbox, c) for c in OUTBOX_COLUMNS])
INDEX_ROWS = {kind: CopyLayout([column_type(SEARCH_INDEX_TABLES[kind], c) for c in columns])
              for kind, columns in _INDEX_COPY_COLUMNS.items()}

_RESERVE = "SELECT nextval('resources_pk_seq') FROM generate_series(1, $1)"
# probed per key, as the current rows of a write: a batch's thousands of keys against an index of millions
_EXISTING = f"SELECT x.res_type, x.res_id FROM {PG_KEY_PROBE}"
_PG_RETRYABLE = (asyncpg.UniqueViolationError, asyncpg.SerializationError, asyncpg.DeadlockDetectedError)


@dataclass(slots=True)
class BulkRows:
    """Encoded rows (`copy_binary`) of a set of new resources, per table."""

    resources: list[bytes] = field(default_factory=list)
    versions: list[bytes] = field(default_factory=list)
    outbox: list[bytes] = field(default_factory=list)
    index: dict[str, list[bytes]] = field(default_factory=lambda: {kind: [] for kind in SEARCH_INDEX_TABLES})


class BulkLoad:
    def __init__(self, store: ResourceStore) -> None:
        if store.is_sqlite:
            raise ValueError("bulk loading with COPY needs PostgreSQL")
        self.store = store

    async def reserve_pks(self, count: int, tx: Tx | None = None) -> list[int]:
        """`count` new primary keys for `resources`, drawn in `tx` or on a connection of their own
        (a sequence does not roll back: the keys stay reserved whatever becomes of the transaction)."""
        if count <= 0:
            return []
        if tx is not None:
            return [row[0] for row in await tx.db.fetch(_RESERVE, count)]
        async with self.store.single() as db:
            return [row[0] for row in await db.fetch(_RESERVE, count)]

    async def existing(self, tx: Tx, keys: Iterable[Key]) -> set[Key]:
        """Those of the (type, id) keys that have a `resources` row (live or deleted)."""
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return set()
        rows = await tx.db.fetch(_EXISTING, [k[0] for k in wanted], [k[1] for k in wanted])
        return {(res_type, res_id) for res_type, res_id in rows}

    async def copy(self, tx: Tx, rows: BulkRows) -> None:
        """COPY the rows in; raises ConcurrentWrite if a resource was created meanwhile by someone else."""
        if not rows.resources:
            return
        db = tx.db
        if not isinstance(db, AsyncpgDriver):
            raise TypeError("bulk loading with COPY needs an asyncpg connection")
        await _copy(db, "resources", RESOURCE_COLUMNS, rows.resources)
        await _copy(db, "resource_versions", VERSION_COLUMNS, rows.versions)
        await _copy(db, "outbox", OUTBOX_COLUMNS, rows.outbox)
        for kind, encoded in rows.index.items():
            if encoded:
                await _copy(db, SEARCH_INDEX_TABLES[kind].name, _INDEX_COPY_COLUMNS[kind], encoded)


async def _copy(db: AsyncpgDriver, table: str, columns: Sequence[str], rows: list[bytes]) -> None:
    try:
        await db.raw.copy_to_table(table, source=io.BytesIO(copy_payload(rows)), columns=list(columns),
                                   format="binary")
    except _PG_RETRYABLE as exc:
        raise ConcurrentWrite(str(exc)) from exc
