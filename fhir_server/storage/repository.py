"""The resource store: current rows, version rows, index rows and the outbox, sealed at rest.

Methods take the caller's connection and never commit: the unit of work (`ResourceStore.write()`)
owns the transaction, so a resource, its version row, its index rows and its change event commit
together or not at all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, exists, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from fhir_server.db.engine import SQLITE_WRITE
from fhir_server.db.tables import SEARCH_INDEX_TABLES, outbox, resource_versions, resources
from fhir_server.storage.crypto import Keyring, associated_data

__all__ = ["ResourceStore", "CurrentRow", "VersionRow", "HistoryQuery"]


@dataclass(frozen=True, slots=True)
class CurrentRow:
    """A `resources` row; `body` is the plaintext JSON of the current version (None when deleted)."""

    pk: int
    res_type: str
    res_id: str
    version_id: int
    last_updated: int
    deleted: bool
    body: bytes | None


@dataclass(frozen=True, slots=True)
class VersionRow:
    pk: int
    resource_pk: int
    res_type: str
    res_id: str
    version_id: int
    last_updated: int
    deleted: bool
    method: str
    body: bytes | None


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    """History at instance (type and id), type (type) or system level (neither).

    `since`: versions written at or after it. `at`: [low, high] microsecond range, versions current
    at some point in it. `before`: keyset cursor (last_updated, pk) of the previous page's last entry.
    """

    res_type: str | None = None
    res_id: str | None = None
    since: int | None = None
    at: tuple[int, int] | None = None
    before: tuple[int, int] | None = None
    limit: int = 20


class ResourceStore:
    def __init__(self, engine: AsyncEngine, keyring: Keyring) -> None:
        self.engine = engine
        self.keyring = keyring
        self.is_sqlite = engine.dialect.name == "sqlite"

    # -- units of work -------------------------------------------------------------------------

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """One write transaction: commits when the block ends, rolls back if it raises."""
        async with self.engine.connect() as conn:
            if self.is_sqlite:
                await conn.execution_options(**SQLITE_WRITE)
            async with conn.begin():
                yield conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read transaction: every statement in it sees one snapshot."""
        async with self.engine.connect() as conn, conn.begin():
            yield conn

    # -- sealing -------------------------------------------------------------------------------

    def seal(self, res_type: str, res_id: str, version_id: int, body: bytes) -> bytes:
        return self.keyring.seal(body, associated_data(res_type, res_id, version_id))

    def open(self, res_type: str, res_id: str, version_id: int, sealed: bytes | None) -> bytes | None:
        if sealed is None:
            return None
        return self.keyring.open(sealed, associated_data(res_type, res_id, version_id))

    # -- reads ---------------------------------------------------------------------------------

    async def current(self, conn: AsyncConnection, res_type: str, res_id: str, *,
                      for_update: bool = False) -> CurrentRow | None:
        stmt = select(
            resources.c.pk, resources.c.version_id, resources.c.last_updated, resources.c.deleted,
            resources.c.body,
        ).where(resources.c.res_type == res_type, resources.c.res_id == res_id)
        if for_update and not self.is_sqlite:
            stmt = stmt.with_for_update()
        row = (await conn.execute(stmt)).first()
        if row is None:
            return None
        return CurrentRow(row.pk, res_type, res_id, row.version_id, row.last_updated, row.deleted,
                          self.open(res_type, res_id, row.version_id, row.body))

    async def current_by_pks(self, conn: AsyncConnection, pks: Sequence[int]) -> list[CurrentRow]:
        """Current rows for the given pks, in the order given (missing pks are skipped)."""
        if not pks:
            return []
        stmt = select(resources).where(resources.c.pk.in_(list(pks)))
        found = {row.pk: row for row in await conn.execute(stmt)}
        out = []
        for pk in pks:
            row = found.get(pk)
            if row is not None:
                out.append(CurrentRow(row.pk, row.res_type, row.res_id, row.version_id, row.last_updated,
                                      row.deleted, self.open(row.res_type, row.res_id, row.version_id, row.body)))
        return out

    async def version(self, conn: AsyncConnection, res_type: str, res_id: str, version_id: int) -> VersionRow | None:
        stmt = select(resource_versions).where(
            resource_versions.c.res_type == res_type,
            resource_versions.c.res_id == res_id,
            resource_versions.c.version_id == version_id,
        )
        row = (await conn.execute(stmt)).first()
        return None if row is None else self._version_row(row)

    async def history(self, conn: AsyncConnection, query: HistoryQuery) -> list[VersionRow]:
        v = resource_versions
        stmt = select(v)
        if query.res_type is not None:
            stmt = stmt.where(v.c.res_type == query.res_type)
        if query.res_id is not None:
            stmt = stmt.where(v.c.res_id == query.res_id)
        if query.since is not None:
            stmt = stmt.where(v.c.last_updated >= query.since)
        if query.at is not None:
            low, high = query.at
            following = resource_versions.alias("following")
            superseded_before_low = exists().where(
                following.c.resource_pk == v.c.resource_pk,
                following.c.version_id == v.c.version_id + 1,
                following.c.last_updated <= low,
            )
            stmt = stmt.where(v.c.last_updated <= high, ~superseded_before_low)
        if query.before is not None:
            last_updated, pk = query.before
            stmt = stmt.where(or_(v.c.last_updated < last_updated,
                                  and_(v.c.last_updated == last_updated, v.c.pk < pk)))
        stmt = stmt.order_by(v.c.last_updated.desc(), v.c.pk.desc()).limit(query.limit)
        return [self._version_row(row) for row in await conn.execute(stmt)]

    def _version_row(self, row: Any) -> VersionRow:
        return VersionRow(row.pk, row.resource_pk, row.res_type, row.res_id, row.version_id, row.last_updated,
                          row.deleted, row.method, self.open(row.res_type, row.res_id, row.version_id, row.body))

    # -- writes --------------------------------------------------------------------------------

    async def insert(self, conn: AsyncConnection, *, res_type: str, res_id: str, body: bytes,
                     last_updated: int, method: str) -> tuple[int, int]:
        """A new logical resource at version 1; returns (resource pk, version pk)."""
        sealed = self.seal(res_type, res_id, 1, body)
        pk = (await conn.execute(
            insert(resources).returning(resources.c.pk),
            {"res_type": res_type, "res_id": res_id, "version_id": 1, "last_updated": last_updated,
             "deleted": False, "body": sealed},
        )).scalar_one()
        version_pk = await self._insert_version(conn, pk, res_type, res_id, 1, last_updated, False, method, sealed)
        return pk, version_pk

    async def replace(self, conn: AsyncConnection, current: CurrentRow, *, body: bytes | None,
                      last_updated: int, method: str) -> tuple[int, int]:
        """Write the next version of `current` (body None: a deletion); returns (version id, version pk).

        The row is matched on its version too: if a concurrent writer got there first the update
        matches nothing and the caller's transaction fails instead of losing that write.
        """
        version_id = current.version_id + 1
        deleted = body is None
        sealed = None if body is None else self.seal(current.res_type, current.res_id, version_id, body)
        result = await conn.execute(
            update(resources)
            .where(resources.c.pk == current.pk, resources.c.version_id == current.version_id)
            .values(version_id=version_id, last_updated=last_updated, deleted=deleted, body=sealed)
        )
        if result.rowcount != 1:
            raise ConcurrentWrite(f"{current.res_type}/{current.res_id} changed while it was being written")
        version_pk = await self._insert_version(conn, current.pk, current.res_type, current.res_id, version_id,
                                                last_updated, deleted, method, sealed)
        return version_id, version_pk

    async def _insert_version(self, conn: AsyncConnection, resource_pk: int, res_type: str, res_id: str,
                              version_id: int, last_updated: int, deleted: bool, method: str,
                              sealed: bytes | None) -> int:
        return (await conn.execute(
            insert(resource_versions).returning(resource_versions.c.pk),
            {"resource_pk": resource_pk, "res_type": res_type, "res_id": res_id, "version_id": version_id,
             "last_updated": last_updated, "deleted": deleted, "method": method, "body": sealed},
        )).scalar_one()

    async def write_index(self, conn: AsyncConnection, resource_pk: int, res_type: str,
                          rows: Mapping[str, Sequence[Mapping[str, Any]]], *, replace: bool) -> None:
        """Replace the resource's search index rows (all tables) with `rows` (kind -> row values)."""
        if replace:
            for table in SEARCH_INDEX_TABLES.values():
                await conn.execute(delete(table).where(table.c.resource_pk == resource_pk))
        for kind, kind_rows in rows.items():
            if kind_rows:
                table = SEARCH_INDEX_TABLES[kind]
                await conn.execute(
                    insert(table),
                    [{**row, "resource_pk": resource_pk, "res_type": res_type} for row in kind_rows],
                )

    async def record_change(self, conn: AsyncConnection, *, res_type: str, res_id: str, version_id: int,
                            action: str, at: int) -> None:
        await conn.execute(insert(outbox), {"created_at": at, "res_type": res_type, "res_id": res_id,
                                            "version_id": version_id, "action": action})


class ConcurrentWrite(Exception):
    """Another transaction wrote the same resource first; the unit of work should retry or refuse."""
