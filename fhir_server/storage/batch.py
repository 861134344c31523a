"""Writing many resource versions in one unit of work with a handful of statements.

Every write of the service layer — a single create as much as a 100-entry transaction Bundle or a
1,000-line import batch — ends here: the new `resources` rows, the `resource_versions` rows, the
search index rows (old ones cleared for updates) and the outbox rows of a batch go in as one
multi-row statement per table (PostgreSQL: `unnest` of arrays, COPY for many rows; SQLite:
`executemany` on the in-process connection). On PostgreSQL a write of a few versions — a single
create or update — puts all of its new rows in with one statement (`_PG_WRITE`), since there the
round trips, not the rows, are the cost. Bodies are sealed here with the store's keyring, exactly as
`ResourceStore.insert` / `replace` do.

Like the repository, nothing here commits: the caller's `Tx` owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from fhir_server.db.tables import SEARCH_INDEX_TABLES
from fhir_server.storage.copy_binary import column_type
from fhir_server.storage.driver import AsyncpgDriver, ConcurrentWrite
from fhir_server.storage.repository import VERSION_BY_ID, CurrentRow, ResourceStore, Tx, VersionRow

__all__ = ["NewVersion", "BatchStore", "index_tuples"]

# per index kind, rows as dicts (what the indexer extracts) or as tuples in the store's column order
IndexRows = Mapping[str, Sequence[Mapping[str, Any] | tuple[Any, ...]]]
Key = tuple[str, str]
SQLITE_CHUNK = 400  # ids per IN (...) list, well under SQLite's bound-parameter limit
# from this many rows on, PostgreSQL gets them with COPY (binary) rather than INSERT ... SELECT unnest:
# a third less server time per row, for a round trip more
COPY_FROM_ROWS = 64
_PG_RETRYABLE = (asyncpg.UniqueViolationError, asyncpg.SerializationError, asyncpg.DeadlockDetectedError)


@dataclass(frozen=True, slots=True)
class NewVersion:
    """One version to write. `current` None: a new logical resource (version 1); otherwise the row
    it supersedes, matched on its version so a concurrent writer cannot be overwritten silently.
    `body` None: a deletion."""

    res_type: str
    res_id: str
    version_id: int
    last_updated: int
    body: bytes | None
    method: str  # POST | PUT | PATCH | DELETE
    action: str  # create | update | delete (the outbox)
    index: IndexRows
    current: CurrentRow | None = None


_INDEX_COLUMNS = {kind: tuple(c.name for c in t.columns if c.name not in ("pk", "resource_pk", "res_type"))
                  for kind, t in SEARCH_INDEX_TABLES.items()}


def index_tuples(index: IndexRows) -> dict[str, list[tuple[Any, ...]]]:
    """Index rows as tuples in the store's column order: compact to send between processes, and
    what `BatchStore.write` inserts as they are."""
    return {kind: [row if isinstance(row, tuple) else tuple(row.get(c) for c in _INDEX_COLUMNS[kind]) for row in rows]
            for kind, rows in index.items() if rows}


def _pg_unnest_insert(table: str, columns: Sequence[str], types: Sequence[str], returning: str = "") -> str:
    arrays = ", ".join(f"${n}::{t}[]" for n, t in enumerate(types, start=1))
    return f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({arrays}){returning}"


def _sqlite_insert(table: str, columns: Sequence[str]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(f'${n}' for n in range(1, len(columns) + 1))})"


_RESOURCE_COLUMNS = ("res_type", "res_id", "version_id", "last_updated", "deleted", "body")
_VERSION_COLUMNS = ("resource_pk", "res_type", "res_id", "version_id", "last_updated", "deleted", "method", "body")
_OUTBOX_COLUMNS = ("created_at", "res_type", "res_id", "version_id", "action")

_PG_INSERT_RESOURCES = _pg_unnest_insert("resources", _RESOURCE_COLUMNS, ("text", "text", "int4", "int8", "bool", "bytea"),
                                         " RETURNING pk, res_type, res_id")
_PG_INSERT_VERSIONS = _pg_unnest_insert("resource_versions", _VERSION_COLUMNS,
                                        ("int8", "text", "text", "int4", "int8", "bool", "text", "bytea"))
_PG_INSERT_OUTBOX = _pg_unnest_insert("outbox", _OUTBOX_COLUMNS, ("int8", "text", "text", "int4", "text"))
# The batch statements find their rows by key whatever the statistics their cached generic plan was
# made from (see `repository._BEGIN_WRITE`): joined plainly with the unnested keys, a plan made while
# `resources` was small read its whole index for every batch until the next ANALYZE. The update
# names its rows by pk (`pk = ANY`); the current rows are probed per key (LATERAL, OFFSET 0 keeps the
# probe a subquery) and then read by pk, so `FOR UPDATE OF r` still locks them in pk order.
_PG_UPDATE_RESOURCES = (
    "UPDATE resources AS r SET version_id = u.version_id, last_updated = u.last_updated, deleted = u.deleted, "
    "body = u.body FROM unnest($1::int8[], $2::int4[], $3::int8[], $4::bool[], $5::bytea[], $6::int4[]) "
    "AS u(pk, version_id, last_updated, deleted, body, previous) "
    "WHERE r.pk = ANY($1::int8[]) AND r.pk = u.pk AND r.version_id = u.previous RETURNING r.pk"
)


def _pg_key_probe(types: int) -> str:
    """The resources of the keys in `$types` (types) and the next parameter (ids) that exist, as `x`
    (pk, res_type, res_id)."""
    return (f"unnest(${types}::text[], ${types + 1}::text[]) AS k(res_type, res_id) JOIN LATERAL (SELECT y.pk, "
            "y.res_type, y.res_id FROM resources AS y WHERE y.res_type = k.res_type AND y.res_id = k.res_id OFFSET 0) "
            "AS x ON true")


def _pg_current(types: int) -> str:
    return ("SELECT r.pk, r.res_type, r.res_id, r.version_id, r.last_updated, r.deleted, r.body FROM resources AS r "
            f"WHERE r.pk IN (SELECT x.pk FROM {_pg_key_probe(types)})")


PG_KEY_PROBE = _pg_key_probe(1)
_PG_CURRENT = _pg_current(1) + " ORDER BY r.pk"
# the current rows of the keys in $1, $2, locked, and of those in $3, $4, not locked: in one round trip
_PG_CURRENT_LOCKING_SOME = f"WITH locked AS ({_PG_CURRENT} FOR UPDATE OF r) SELECT * FROM locked UNION ALL ({_pg_current(3)})"
# The statements of one resource: `JOIN unnest($1)` is estimated at ten rows in a generic plan and at
# the array's length in a custom one, so PostgreSQL would plan the batch forms anew on every execution.
_PG_CURRENT_ONE = ("SELECT pk, res_type, res_id, version_id, last_updated, deleted, body FROM resources "
                   "WHERE res_type = $1 AND res_id = $2")
_PG_UPDATE_ONE = ("UPDATE resources SET version_id = $1, last_updated = $2, deleted = $3, body = $4 "
                  "WHERE pk = $5 AND version_id = $6 RETURNING pk")
_PG_CLEAR_INDEX = "WITH " + ", ".join(
    f"d{n} AS (DELETE FROM {t.name} WHERE resource_pk = ANY($1::int8[]))"
    for n, t in enumerate(list(SEARCH_INDEX_TABLES.values())[1:])
) + f" DELETE FROM {next(iter(SEARCH_INDEX_TABLES.values())).name} WHERE resource_pk = ANY($1::int8[])"
# likewise `= ANY($1)`: the index rows of a few resources are cleared one resource at a time (pipelined)
_PG_CLEAR_ONE = "WITH " + ", ".join(
    f"d{n} AS (DELETE FROM {t.name} WHERE resource_pk = $1)" for n, t in enumerate(list(SEARCH_INDEX_TABLES.values())[1:])
) + f" DELETE FROM {next(iter(SEARCH_INDEX_TABLES.values())).name} WHERE resource_pk = $1"
_PG_INSERT_INDEX = {
    kind: _pg_unnest_insert(t.name, ("resource_pk", "res_type", *_INDEX_COLUMNS[kind]),
                            ("int8", "text", *(column_type(t, c) for c in _INDEX_COLUMNS[kind])))
    for kind, t in SEARCH_INDEX_TABLES.items()
}



def _pg_write_statement() -> str:
    """The rows of a few versions in one statement: one round trip instead of one per table.

    `v` numbers the versions (`n`) and gives the new ones their pks (the others keep theirs: the
    caller has updated their `resources` rows and cleared their index rows already); the index rows
    name their version by `n`. Every part is estimated at a few rows whatever the arrays hold, so
    PostgreSQL settles on one generic plan for it (`ResourceStore.write`) instead of planning it anew."""
    types = ("text", "text", "int4", "int8", "bool", "bytea", "text", "text", "int8")
    arrays = ", ".join(f"${n}::{t}[]" for n, t in enumerate(types, start=1))
    ctes = [
        "v AS MATERIALIZED (SELECT COALESCE(known, nextval('resources_pk_seq')) AS pk, * FROM unnest("
        f"{arrays}) WITH ORDINALITY AS u(res_type, res_id, version_id, last_updated, deleted, body, method, action, "
        "known, n))",
        "inserted AS (INSERT INTO resources (pk, res_type, res_id, version_id, last_updated, deleted, body) "
        "SELECT pk, res_type, res_id, version_id, last_updated, deleted, body FROM v WHERE known IS NULL ORDER BY n)",
        f"versions AS (INSERT INTO resource_versions ({', '.join(_VERSION_COLUMNS)}) "
        "SELECT pk, res_type, res_id, version_id, last_updated, deleted, method, body FROM v ORDER BY n)",
        f"changes AS (INSERT INTO outbox ({', '.join(_OUTBOX_COLUMNS)}) "
        "SELECT last_updated, res_type, res_id, version_id, action FROM v ORDER BY n)",
    ]
    position = len(types) + 1
    for n, (kind, table) in enumerate(SEARCH_INDEX_TABLES.items()):
        columns = _INDEX_COLUMNS[kind]
        arrays = ", ".join(f"${position + k}::{t}[]" for k, t in enumerate(
            ("int8", *(column_type(table, c) for c in columns))))
        position += len(columns) + 1
        ctes.append(f"i{n} AS (INSERT INTO {table.name} (resource_pk, res_type, {', '.join(columns)}) "
                    f"SELECT v.pk, v.res_type, {', '.join(f'x.{c}' for c in columns)} "
                    f"FROM unnest({arrays}) AS x(n, {', '.join(columns)}) JOIN v ON v.n = x.n)")
    return "WITH " + ", ".join(ctes) + " SELECT pk FROM v ORDER BY n"


_PG_WRITE = _pg_write_statement()

_SQLITE_INSERT_RESOURCES = _sqlite_insert("resources", ("pk", *_RESOURCE_COLUMNS))
_SQLITE_INSERT_VERSIONS = _sqlite_insert("resource_versions", _VERSION_COLUMNS)
_SQLITE_INSERT_OUTBOX = _sqlite_insert("outbox", _OUTBOX_COLUMNS)
_SQLITE_UPDATE_RESOURCE = ("UPDATE resources SET version_id = $1, last_updated = $2, deleted = $3, body = $4 "
                           "WHERE pk = $5 AND version_id = $6")
_SQLITE_CLEAR_INDEX = {kind: f"DELETE FROM {t.name} WHERE resource_pk = $1" for kind, t in SEARCH_INDEX_TABLES.items()}
_SQLITE_INSERT_INDEX = {kind: _sqlite_insert(t.name, ("resource_pk", "res_type", *_INDEX_COLUMNS[kind]))
                        for kind, t in SEARCH_INDEX_TABLES.items()}


class BatchStore:
    """Batched reads and writes of the resource store inside the caller's transaction."""

    def __init__(self, store: ResourceStore) -> None:
        self.store = store
        self.is_sqlite = store.is_sqlite

    # -- reads ---------------------------------------------------------------------------------

    async def current_many(self, tx: Tx, keys: Iterable[Key], *, for_update: bool = False,
                           bodies: bool = False, unlocked: Iterable[Key] = ()) -> dict[Key, CurrentRow]:
        """The current rows of the (type, id) keys that exist, locked for update when asked (PostgreSQL;
        SQLite's write transaction is exclusive already). Bodies are opened only when `bodies`.
        `unlocked`: more keys, read in the same statement without a lock."""
        wanted = list(dict.fromkeys(keys))
        seen = set(wanted)
        also = [key for key in dict.fromkeys(unlocked) if key not in seen]
        if for_update and wanted and also and not self.is_sqlite:
            rows = await tx.db.fetch(_PG_CURRENT_LOCKING_SOME, [k[0] for k in wanted], [k[1] for k in wanted],
                                     [k[0] for k in also], [k[1] for k in also])
            return self._current_rows(rows, bodies)
        wanted += also
        if not wanted:
            return {}
        if self.is_sqlite:
            rows: list[Sequence[Any]] = []
            by_type: dict[str, list[str]] = {}
            for res_type, res_id in wanted:
                by_type.setdefault(res_type, []).append(res_id)
            for res_type, ids in by_type.items():
                for start in range(0, len(ids), SQLITE_CHUNK):
                    chunk = ids[start:start + SQLITE_CHUNK]
                    marks = ", ".join(f"${n}" for n in range(2, len(chunk) + 2))
                    rows.extend(await tx.db.fetch(
                        "SELECT pk, res_type, res_id, version_id, last_updated, deleted, body FROM resources "
                        f"WHERE res_type = $1 AND res_id IN ({marks})", res_type, *chunk))
        elif len(wanted) == 1:
            rows = await tx.db.fetch(_PG_CURRENT_ONE + (" FOR UPDATE" if for_update else ""), *wanted[0])
        else:
            sql = _PG_CURRENT + (" FOR UPDATE OF r" if for_update else "")
            rows = await tx.db.fetch(sql, [k[0] for k in wanted], [k[1] for k in wanted])
        return self._current_rows(rows, bodies)

    def _current_rows(self, rows: Iterable[Sequence[Any]], bodies: bool) -> dict[Key, CurrentRow]:
        found: dict[Key, CurrentRow] = {}
        for pk, res_type, res_id, version_id, last_updated, deleted, body in rows:
            opened = self.store.open(res_type, res_id, version_id, body) if bodies else None
            found[(res_type, res_id)] = CurrentRow(pk, res_type, res_id, version_id, last_updated, bool(deleted), opened)
        return found

    async def version(self, tx: Tx, res_type: str, res_id: str, version_id: int) -> VersionRow | None:
        """One version, read inside the caller's transaction (so it sees the transaction's own writes)."""
        row = await tx.db.fetchrow(VERSION_BY_ID, res_type, res_id, version_id)
        if row is None:
            return None
        pk, resource_pk, last_updated, deleted, method, body = row
        return VersionRow(pk, resource_pk, res_type, res_id, version_id, last_updated, bool(deleted), method,
                          self.store.open(res_type, res_id, version_id, body))

    # -- writes --------------------------------------------------------------------------------

    async def write(self, tx: Tx, versions: Sequence[NewVersion]) -> list[int]:
        """Write every version (resource row, version row, index rows, outbox row); returns the
        resource pks in the order given. Raises ConcurrentWrite if a superseded row changed meanwhile
        or a new (type, id) exists already, so the unit of work can be retried."""
        if not versions:
            return []
        seal = self.store.seal
        sealed = [None if v.body is None else seal(v.res_type, v.res_id, v.version_id, v.body) for v in versions]
        inserts = [n for n, v in enumerate(versions) if v.current is None]
        updates = [n for n, v in enumerate(versions) if v.current is not None]
        pks: list[int] = [v.current.pk if v.current is not None else 0 for v in versions]
        if self.is_sqlite:
            await self._sqlite_rows(tx, versions, sealed, inserts, updates, pks)
        elif len(versions) < COPY_FROM_ROWS:
            return await self._pg_write(tx, versions, sealed, updates, pks)
        else:
            await self._pg_rows(tx, versions, sealed, inserts, updates, pks)
        await self._write_index(tx, versions, pks, [pks[n] for n in updates])
        return pks

    async def _pg_write(self, tx: Tx, versions: Sequence[NewVersion], sealed: list[bytes | None],
                        updates: list[int], pks: list[int]) -> list[int]:
        """A few versions: the superseded rows updated and their index rows cleared, then every other
        row in one statement (`_PG_WRITE`); an index kind with many rows goes by COPY after it."""
        if updates:
            await self._pg_update(tx, versions, sealed, updates, pks)
            await tx.db.executemany(_PG_CLEAR_ONE, [(pks[n],) for n in updates])
        args: list[list[Any]] = [
            [v.res_type for v in versions], [v.res_id for v in versions], [v.version_id for v in versions],
            [v.last_updated for v in versions], [v.body is None for v in versions], sealed,
            [v.method for v in versions], [v.action for v in versions], [pk or None for pk in pks],
        ]
        copied: dict[str, list[tuple[Any, ...]]] = {}
        for kind, columns in _INDEX_COLUMNS.items():
            rows = [(n, *(row if isinstance(row, tuple) else (row.get(c) for c in columns)))
                    for n, v in enumerate(versions, start=1) for row in v.index.get(kind, ())]
            if len(rows) >= COPY_FROM_ROWS:
                copied[kind], rows = rows, []
            args.extend([list(column) for column in zip(*rows, strict=True)] if rows else [[]] * (len(columns) + 1))
        pks = [row[0] for row in await tx.db.fetch(_PG_WRITE, *args)]
        for kind, rows in copied.items():
            await _pg_insert(tx, SEARCH_INDEX_TABLES[kind].name, ("resource_pk", "res_type", *_INDEX_COLUMNS[kind]),
                             _PG_INSERT_INDEX[kind], [(pks[n - 1], versions[n - 1].res_type, *values)
                                                      for n, *values in rows])
        return pks

    async def _pg_update(self, tx: Tx, versions: Sequence[NewVersion], sealed: list[bytes | None],
                         updates: list[int], pks: list[int]) -> None:
        old = [versions[n] for n in updates]
        if len(old) == 1:
            n, v = updates[0], old[0]
            if await tx.db.fetchval(_PG_UPDATE_ONE, v.version_id, v.last_updated, v.body is None, sealed[n], pks[n],
                                    v.current.version_id) is None:  # type: ignore[union-attr]
                raise ConcurrentWrite("a resource changed while it was being written")
            return
        changed = await tx.db.fetch(_PG_UPDATE_RESOURCES, [pks[n] for n in updates], [v.version_id for v in old],
                                    [v.last_updated for v in old], [v.body is None for v in old],
                                    [sealed[n] for n in updates], [v.current.version_id for v in old])  # type: ignore[union-attr]
        if len(changed) != len(updates):
            raise ConcurrentWrite("a resource changed while it was being written")

    async def _pg_rows(self, tx: Tx, versions: Sequence[NewVersion], sealed: list[bytes | None],
                       inserts: list[int], updates: list[int], pks: list[int]) -> None:
        db = tx.db
        if inserts:
            new = [versions[n] for n in inserts]
            returned = await db.fetch(_PG_INSERT_RESOURCES, [v.res_type for v in new], [v.res_id for v in new],
                                      [v.version_id for v in new], [v.last_updated for v in new],
                                      [v.body is None for v in new], [sealed[n] for n in inserts])
            by_key = {(res_type, res_id): pk for pk, res_type, res_id in returned}
            for n in inserts:
                pks[n] = by_key[(versions[n].res_type, versions[n].res_id)]
        if updates:
            await self._pg_update(tx, versions, sealed, updates, pks)
        await _pg_insert(tx, "resource_versions", _VERSION_COLUMNS, _PG_INSERT_VERSIONS, [
            (pks[n], v.res_type, v.res_id, v.version_id, v.last_updated, v.body is None, v.method, sealed[n])
            for n, v in enumerate(versions)])
        await _pg_insert(tx, "outbox", _OUTBOX_COLUMNS, _PG_INSERT_OUTBOX, [
            (v.last_updated, v.res_type, v.res_id, v.version_id, v.action) for v in versions])

    async def _sqlite_rows(self, tx: Tx, versions: Sequence[NewVersion], sealed: list[bytes | None],
                           inserts: list[int], updates: list[int], pks: list[int]) -> None:
        db = tx.db
        if inserts:
            # SQLite's write transaction is exclusive, so the next pks are ours to hand out
            top = await db.fetchval("SELECT COALESCE(MAX(pk), 0) FROM resources")
            rows = []
            for offset, n in enumerate(inserts, start=1):
                v = versions[n]
                pks[n] = top + offset
                rows.append((pks[n], v.res_type, v.res_id, v.version_id, v.last_updated, v.body is None, sealed[n]))
            await db.executemany(_SQLITE_INSERT_RESOURCES, rows)
        if updates:
            # the rows were read in this same exclusive write transaction, so their versions still hold
            await db.executemany(_SQLITE_UPDATE_RESOURCE, [
                (versions[n].version_id, versions[n].last_updated, versions[n].body is None, sealed[n], pks[n],
                 versions[n].current.version_id)  # type: ignore[union-attr]
                for n in updates])
        await db.executemany(_SQLITE_INSERT_VERSIONS, [
            (pks[n], v.res_type, v.res_id, v.version_id, v.last_updated, v.body is None, v.method, sealed[n])
            for n, v in enumerate(versions)])
        await db.executemany(_SQLITE_INSERT_OUTBOX, [
            (v.last_updated, v.res_type, v.res_id, v.version_id, v.action) for v in versions])

    async def _write_index(self, tx: Tx, versions: Sequence[NewVersion], pks: list[int], replaced: list[int]) -> None:
        db = tx.db
        if replaced:
            if self.is_sqlite:
                for sql in _SQLITE_CLEAR_INDEX.values():
                    await db.executemany(sql, [(pk,) for pk in replaced])
            else:
                await db.execute(_PG_CLEAR_INDEX, replaced)
        for kind, columns in _INDEX_COLUMNS.items():
            rows = [(pk, v.res_type, *(row if isinstance(row, tuple) else (row.get(c) for c in columns)))
                    for pk, v in zip(pks, versions, strict=True) for row in v.index.get(kind, ())]
            if not rows:
                continue
            if self.is_sqlite:
                await db.executemany(_SQLITE_INSERT_INDEX[kind], rows)
            else:
                table = SEARCH_INDEX_TABLES[kind].name
                await _pg_insert(tx, table, ("resource_pk", "res_type", *columns), _PG_INSERT_INDEX[kind], rows)


async def _pg_insert(tx: Tx, table: str, columns: Sequence[str], unnest_sql: str, rows: list[tuple[Any, ...]]) -> None:
    """Insert `rows` into `table`: COPY for many, one INSERT ... SELECT unnest for a few."""
    if len(rows) >= COPY_FROM_ROWS and isinstance(tx.db, AsyncpgDriver):
        try:
            await tx.db.raw.copy_records_to_table(table, records=rows, columns=list(columns))
        except _PG_RETRYABLE as exc:
            raise ConcurrentWrite(str(exc)) from exc
        return
    await tx.db.execute(unnest_sql, *(list(column) for column in zip(*rows, strict=True)))
