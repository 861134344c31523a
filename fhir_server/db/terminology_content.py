"""The shipped terminology content in the database: written at migrate time, read by every process at start.

    report = sync(url)              # after the migrations (`migrate.upgrade`): writes only what differs
    report = sync(url, resources)   # the same towards a given list of resources
    loaded(url)                     # the release the tables hold whole (None: none), for start-up checks
    decode(body)                    # a `terminology_content.body` back into its resource

`terminology/data` is the source. The table holds one row per (resource type, canonical url, version)
with the SHA-256 of its JSON; `terminology_release` records which release that is (`content.release()`,
a digest of the files). When the release matches and every row is there, nothing is parsed or written.
Otherwise, in one transaction, rows whose digest changed are rewritten, rows that only moved in the
shipped order get their new place, new resources are inserted and those no longer shipped deleted.
Syncs started together (processes starting on one SQLite file, two `fhir-server migrate`s) take turns:
BEGIN IMMEDIATE on SQLite, a table lock on PostgreSQL; the second finds the work done.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import bindparam, delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from fhir_server.db.engine import SQLITE_WRITE, create_engine
from fhir_server.db.tables import terminology_content, terminology_release
from terminology import content

__all__ = ["Sync", "sync", "loaded", "decode"]

# (resource type, canonical url, version) -> (position, digest, JSON)
Rows = dict[tuple[str, str, str | None], tuple[int, str, bytes]]


@dataclass(frozen=True)
class Sync:
    """What a sync wrote; `resources` is the number of rows the table holds after it."""

    resources: int
    added: int = 0
    updated: int = 0
    moved: int = 0
    removed: int = 0

    @property
    def written(self) -> int:
        return self.added + self.updated + self.moved + self.removed

    def __str__(self) -> str:
        if not self.written:
            return "up to date"
        if self.written == self.added == self.resources:
            return f"{self.resources:,} resources loaded"
        done = [f"{count:,} {what}" for count, what in ((self.added, "added"), (self.updated, "updated"),
                                                        (self.moved, "moved"), (self.removed, "removed")) if count]
        return f"{', '.join(done)} ({self.resources:,} resources)"


def decode(body: bytes) -> dict[str, Any]:
    """The resource a `terminology_content.body` holds."""
    return orjson.loads(zlib.decompress(body))  # type: ignore[no-any-return]


def sync(url: str, resources: Iterable[dict[str, Any]] | None = None) -> Sync:
    """Bring the content tables of the database at `url` (an async driver URL, migrated to head) to
    `resources`, by default what `terminology/data` ships."""
    if resources is None:
        return asyncio.run(_sync(url, content.release(), lambda: _rows(content.bundled())))
    rows = _rows(resources)
    release = hashlib.sha256(b"".join(bytes.fromhex(digest) for _, digest, _ in rows.values())).hexdigest()
    return asyncio.run(_sync(url, release, lambda: rows))


def loaded(url: str) -> str | None:
    """The release whose content the database at `url` holds, all of it; None when it holds none."""

    async def read() -> str | None:
        engine = create_engine(url, pool_size=1)
        try:
            async with engine.connect() as conn:
                release, count = await _recorded(conn)
                return release if count else None
        finally:
            await engine.dispose()

    return asyncio.run(read())


def _rows(resources: Iterable[dict[str, Any]]) -> Rows:
    """One row per (type, url, version): a later resource replaces an earlier one with the same key (as
    in the terminology store) and takes its place."""
    rows: Rows = {}
    for resource in resources:
        key = (resource["resourceType"], resource["url"], resource.get("version"))
        raw = orjson.dumps(resource)
        position = rows[key][0] if key in rows else len(rows)
        rows[key] = (position, hashlib.sha256(raw).hexdigest(), raw)
    return rows


async def _sync(url: str, release: str, shipped: Callable[[], Rows]) -> Sync:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            held = await _held(conn, release)
        if held is not None:
            return Sync(held)
        rows = shipped()
        async with engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                await conn.execution_options(**SQLITE_WRITE)
            async with conn.begin():
                if conn.dialect.name == "postgresql":
                    # conflicts with itself only: readers of the content go on
                    await conn.execute(text("LOCK TABLE terminology_release IN EXCLUSIVE MODE"))
                held = await _held(conn, release)  # another process may have synced meanwhile
                return Sync(held) if held is not None else await _write(conn, release, rows)
    finally:
        await engine.dispose()


async def _held(conn: AsyncConnection, release: str) -> int | None:
    """The number of rows when the table holds all of `release`; None when it needs a sync."""
    recorded, count = await _recorded(conn)
    return count if recorded == release else None


async def _recorded(conn: AsyncConnection) -> tuple[str | None, int]:
    """The release recorded and the rows held, when they agree (else no release)."""
    recorded = (await conn.execute(select(terminology_release.c.digest, terminology_release.c.resources))).all()
    count = await conn.scalar(select(func.count()).select_from(terminology_content)) or 0
    if len(recorded) == 1 and recorded[0].resources == count:
        return recorded[0].digest, count
    return None, count


async def _write(conn: AsyncConnection, release: str, rows: Rows) -> Sync:
    t = terminology_content
    held = {(row.res_type, row.url, row.version): row for row in (await conn.execute(
        select(t.c.pk, t.c.position, t.c.res_type, t.c.url, t.c.version, t.c.digest))).all()}
    added: list[dict[str, Any]] = []
    updated: list[dict[str, Any]] = []
    moved: list[dict[str, Any]] = []
    for (res_type, url, version), (position, digest, raw) in rows.items():
        row = held.pop((res_type, url, version), None)
        if row is None:
            added.append({"position": position, "res_type": res_type, "url": url, "version": version,
                          "digest": digest, "body": zlib.compress(raw)})
        elif row.digest != digest:
            updated.append({"row": row.pk, "position": position, "digest": digest, "body": zlib.compress(raw)})
        elif row.position != position:
            moved.append({"row": row.pk, "position": position})
    removed = [{"row": row.pk} for row in held.values()]
    if removed:
        await conn.execute(delete(t).where(t.c.pk == bindparam("row")), removed)
    if updated:
        await conn.execute(update(t).where(t.c.pk == bindparam("row")), updated)
    if moved:
        await conn.execute(update(t).where(t.c.pk == bindparam("row")), moved)
    if added:
        await conn.execute(insert(t), added)
    await conn.execute(delete(terminology_release))
    await conn.execute(insert(terminology_release).values(digest=release, resources=len(rows),
                                                          loaded_at=time.time_ns() // 1000))
    return Sync(len(rows), added=len(added), updated=len(updated), moved=len(moved), removed=len(removed))
