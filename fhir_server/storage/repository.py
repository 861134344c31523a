"""The resource store: current rows, version rows, index rows and the outbox, sealed at rest.

Methods take the caller's connection and never commit: the unit of work (`ResourceStore.write()`)
owns the transaction, so a resource, its version row, its index rows and its change event commit
together or not at all.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from fhir_server.db.engine import SQLITE_WRITE
from fhir_server.db.tables import SEARCH_INDEX_TABLES, resource_versions, resources
from fhir_server.storage.crypto import Keyring, associated_data
from fhir_server.storage.deferred import Deferred, carrying, together
from fhir_server.storage.driver import AsyncpgDriver, ConcurrentWrite, Driver, compile_for, driver_for

__all__ = ["ResourceStore", "Tx", "CurrentRow", "VersionRow", "HistoryQuery", "ConcurrentWrite", "VERSION_BY_ID",
           "advisory_lock_id", "advisory_locks"]


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


log = logging.getLogger("fhir_server.storage")

AfterCommit = Callable[[Driver], Awaitable[None]]


@dataclass(slots=True)
class Tx:
    """One unit of work on one connection: `db` runs SQL text, `select` runs a SQLAlchemy statement
    (a search query) inside the same transaction.

    `generic_plans`: the transaction runs on PostgreSQL's cached generic plans (a write, see
    `ResourceStore.write`); its first search switches the rest of it to plans made for the values.
    `locked`: the keys of the advisory locks it holds (taken once, kept until it ends).
    `after_commit`: callbacks run once the transaction has committed (never after a rollback), by
    key so that a transaction asks for each at most once; see `on_commit`.
    `notices`: the (channel, payload) pairs PostgreSQL notifies once it has committed; see `notify_on_commit`.
    `deferred`: writes waiting to go with a later statement (PostgreSQL); see `defer`."""

    db: Driver
    dialect: Any
    generic_plans: bool = False
    locked: set[str] = field(default_factory=set)
    after_commit: dict[str, AfterCommit] = field(default_factory=dict)
    notices: dict[tuple[str, str], None] = field(default_factory=dict)
    deferred: list[Deferred] = field(default_factory=list)

    async def defer(self, sql: str, *args: Any) -> None:
        """A write whose result nobody reads (an append), sent with the transaction's next statement that
        carries deferred writes, or before its commit: on PostgreSQL one round trip serves several
        (`fhir_server.storage.deferred`); SQLite, in process, runs it at once."""
        if self.dialect.name == "sqlite":
            await self.db.execute(sql, *args)
        else:
            self.deferred.append((sql, args))

    async def fetchval_carrying(self, sql: str, *args: Any) -> Any:
        """`db.fetchval(sql, *args)`, with the deferred writes sent in front of it."""
        sql, values = carrying(sql, args, self.deferred)
        self.deferred = []
        return await self.db.fetchval(sql, *values)

    async def send_deferred(self) -> None:
        """The deferred writes not carried yet, in one statement (before the commit)."""
        if self.deferred:
            sql, values = together(self.deferred)
            self.deferred = []
            await self.db.execute(sql, *values)

    def on_commit(self, key: str, callback: AfterCommit) -> None:
        """Run `callback(db)` on this connection after the commit (once per `key`): for signals that must
        not be seen before the data is, and must not slow the commit itself."""
        self.after_commit.setdefault(key, callback)

    def notify_on_commit(self, channel: str, payload: str) -> None:
        """PostgreSQL: `pg_notify(channel, payload)` once the transaction has committed (once per pair),
        sent with the COMMIT in its round trip and run as a transaction of its own after it: never seen
        if the commit fails, and not holding the notify lock through the commit's WAL flush."""
        if not (_NOTICE_TEXT.fullmatch(channel) and _NOTICE_TEXT.fullmatch(payload)):
            raise ValueError(f"a notification's channel and payload are plain names, not {channel!r}, {payload!r}")
        self.notices.setdefault((channel, payload))

    async def select(self, statement: Any) -> list[dict[str, Any]]:
        sql, params = compile_for(statement, self.dialect)
        names = [column.key for column in statement.selected_columns]
        return [dict(zip(names, row, strict=True)) for row in await self.select_sql(sql, params)]

    async def select_sql(self, sql: str, params: Sequence[Any], *, any_plan: bool = False) -> list[Sequence[Any]]:
        """The rows of a query already rendered for this dialect (`compile_for`), planned for its values
        unless `any_plan`: a query whose best plan is the same whatever its values (an equality on
        indexed columns) may run on the transaction's cached generic plan, and need not be planned again."""
        if self.generic_plans and not any_plan:
            self.generic_plans = False
            await self.db.execute(_CUSTOM_PLANS)
        return await self.db.fetch(sql, *params)


# The database plans each execution of a statement for its values (`plan_cache_mode = force_custom_plan`,
# migration 0002), which searches need. A write transaction's statements are the same few inserts
# whatever the values, and planning them afresh every time was a third of the database's time per
# create: write transactions run on the generic plans PostgreSQL caches per prepared statement, set
# in the same round trip as BEGIN; a search inside one (a conditional match) switches back. Forced, not
# `auto`: `auto` compares the generic plan's cost with the custom plans' and keeps planning a statement
# whose custom plans see short arrays (a generic plan estimates ten elements per `unnest($1)`), so the
# batch statements that find a few rows by key (the current rows of a Bundle's updates) were planned
# afresh on every execution, 0.3 ms each, for the same plan.
# A cached plan is kept until its tables are next analyzed, however much they grow meanwhile: one made
# while they were small reads them whole (a seq scan of a few pages is cheaper than an index), and
# under a lab feed into a new database the conditional-match lookup made so took 4 to 37 s per run
# some thousands of rows later. Every statement of a write finds its rows by key, so while writes
# make their plans, sequential scans are off: the plans use the indexes, right at any table size.
_BEGIN_WRITE = "BEGIN; SET LOCAL plan_cache_mode = force_generic_plan; SET LOCAL enable_seqscan = off"
_CUSTOM_PLANS = "SET LOCAL plan_cache_mode = force_custom_plan; SET LOCAL enable_seqscan = on"
SQLITE_BUSY_SECONDS = 30  # the engine's `PRAGMA busy_timeout`
# what a notification's channel and payload may hold: they are written into the COMMIT's SQL text
_NOTICE_TEXT = re.compile(r"[A-Za-z0-9_.:-]{1,100}")
_CURRENT = "SELECT pk, version_id, last_updated, deleted, body FROM resources WHERE res_type = $1 AND res_id = $2"
# one version of a resource: through its pk, which leads the versions' unique key (migration 0016)
VERSION_BY_ID = ("SELECT v.pk, v.resource_pk, v.last_updated, v.deleted, v.method, v.body "
                 "FROM resources AS r JOIN resource_versions AS v ON v.resource_pk = r.pk "
                 "WHERE r.res_type = $1 AND r.res_id = $2 AND v.version_id = $3")
_INSERT_RESOURCE = ("INSERT INTO resources (res_type, res_id, version_id, last_updated, deleted, body) "
                    "VALUES ($1, $2, $3, $4, $5, $6) RETURNING pk")
_INSERT_VERSION = ("INSERT INTO resource_versions (resource_pk, res_type, res_id, version_id, last_updated, deleted, "
                   "method, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
_UPDATE_RESOURCE = ("UPDATE resources SET version_id = $1, last_updated = $2, deleted = $3, body = $4 "
                    "WHERE pk = $5 AND version_id = $6 RETURNING pk")
_INSERT_CHANGE = "INSERT INTO outbox (created_at, res_type, res_id, version_id, action) VALUES ($1, $2, $3, $4, $5)"
# PostgreSQL clears every index table of a resource in one round trip
_DELETE_INDEX_PG = "WITH " + ", ".join(
    f"d{i} AS (DELETE FROM {t.name} WHERE resource_pk = $1)" for i, t in enumerate(list(SEARCH_INDEX_TABLES.values())[1:])
) + f" DELETE FROM {list(SEARCH_INDEX_TABLES.values())[0].name} WHERE resource_pk = $1"
_DELETE_INDEX_ONE = {kind: f"DELETE FROM {t.name} WHERE resource_pk = $1" for kind, t in SEARCH_INDEX_TABLES.items()}
_INDEX_COLUMNS = {kind: tuple(c.name for c in t.columns if c.name not in ("pk", "resource_pk", "res_type"))
                  for kind, t in SEARCH_INDEX_TABLES.items()}
_INSERT_INDEX = {
    kind: f"INSERT INTO {t.name} (resource_pk, res_type, {', '.join(_INDEX_COLUMNS[kind])}) VALUES ("
          + ", ".join(f"${n}" for n in range(1, len(_INDEX_COLUMNS[kind]) + 3)) + ")"
    for kind, t in SEARCH_INDEX_TABLES.items()
}


def advisory_lock_id(key: str) -> int:
    """The PostgreSQL advisory lock (a signed 64-bit number) of a key: the same in every process."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)


def advisory_locks(keys: Iterable[str]) -> list[int]:
    """The locks of `keys` in the order every transaction takes them (so that none waits for another
    that waits for it)."""
    return sorted({advisory_lock_id(key) for key in keys})


def _begin_write(locks: Sequence[str]) -> str:
    """BEGIN, with the transaction's settings and its first advisory locks, as one simple query: the
    lock ids are numbers written into the SQL text, and a function scan takes them in the array's order."""
    if not locks:
        return _BEGIN_WRITE
    ids = ",".join(str(n) for n in advisory_locks(locks))
    return f"{_BEGIN_WRITE}; SELECT pg_advisory_xact_lock(x) FROM unnest('{{{ids}}}'::int8[]) AS x"


def _commit(notices: dict[tuple[str, str], None]) -> str:
    """COMMIT, then the notifications, as one simple query: a statement after a failed one is not run."""
    return "COMMIT" + "".join(f"; SELECT pg_notify('{channel}', '{payload}')" for channel, payload in notices)


async def _after_commit(tx: Tx) -> None:
    """The transaction's after-commit callbacks; one that fails is logged: the commit stands."""
    for key, callback in tx.after_commit.items():
        try:
            await callback(tx.db)
        except Exception as exc:
            log.warning("after-commit %s failed: %s", key, exc)


class ResourceStore:
    def __init__(self, engine: AsyncEngine, keyring: Keyring, *, pg_pool: Any = None) -> None:
        """`engine` for SQLite (and the administrative paths); on PostgreSQL every unit of work runs
        on `pg_pool`, an asyncpg pool (see `driver.create_pg_pool`)."""
        self.engine = engine
        self.keyring = keyring
        self.dialect = engine.dialect.name
        self.is_sqlite = self.dialect == "sqlite"
        if not self.is_sqlite and pg_pool is None:
            raise ValueError("a PostgreSQL resource store needs its asyncpg pool")
        self.pg_pool = pg_pool
        # SQLite has one writer at a time; this process's writers queue here rather than on SQLite's
        # busy handler, which polls with sleeps of up to 100 ms and leaves the lock idle meanwhile
        self._sqlite_writer = asyncio.Lock()

    # -- units of work -------------------------------------------------------------------------

    @asynccontextmanager
    async def write(self, *, locks: Sequence[str] = ()) -> AsyncIterator[Tx]:
        """One write transaction: commits when the block ends, rolls back if it raises. `locks`: keys
        of advisory locks it takes as it begins, in the same round trip (PostgreSQL; see `Tx.locked`
        and `advisory_lock_id`); SQLite's write transactions run one at a time already."""
        if self.is_sqlite:
            async with self._sqlite_turn(), self.engine.connect() as conn:
                await conn.execution_options(**SQLITE_WRITE)
                db = driver_for(self.dialect, await self._raw(conn))
                async with conn.begin():
                    tx = Tx(db, self.engine.dialect)
                    yield tx
                await _after_commit(tx)
            return
        async with self.pg_pool.acquire() as raw:
            db = AsyncpgDriver(raw)
            await raw.execute(_begin_write(locks))
            try:
                tx = Tx(db, self.engine.dialect, generic_plans=True, locked=set(locks))
                yield tx
            except BaseException:
                await _roll_back(raw)
                raise
            await tx.send_deferred()
            await db.execute(_commit(tx.notices))
            await _after_commit(tx)

    @asynccontextmanager
    async def _sqlite_turn(self) -> AsyncIterator[None]:
        """This process's turn to write, waited for as long as SQLite's busy timeout would wait and
        failing as it would ("database is locked") — a write awaited inside another never hangs."""
        try:
            async with asyncio.timeout(SQLITE_BUSY_SECONDS):
                await self._sqlite_writer.acquire()
        except TimeoutError:
            raise OperationalError("BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked")) from None
        try:
            yield
        finally:
            self._sqlite_writer.release()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Tx]:
        """A read transaction: every statement in it sees one snapshot."""
        if self.is_sqlite:
            async with self.engine.connect() as conn, conn.begin():
                yield Tx(driver_for(self.dialect, await self._raw(conn)), self.engine.dialect)
            return
        async with self.pg_pool.acquire() as raw, raw.transaction(isolation="repeatable_read", readonly=True):
            yield Tx(AsyncpgDriver(raw), self.engine.dialect)

    @asynccontextmanager
    async def single(self) -> AsyncIterator[Driver]:
        """A connection for one statement, without a transaction around it (the fastest read)."""
        if self.is_sqlite:
            async with self.engine.connect() as conn:
                yield driver_for(self.dialect, await self._raw(conn))
            return
        async with self.pg_pool.acquire() as raw:
            yield AsyncpgDriver(raw)

    @staticmethod
    async def _raw(conn: AsyncConnection) -> Any:
        return (await conn.get_raw_connection()).driver_connection

    # -- sealing -------------------------------------------------------------------------------

    def seal(self, res_type: str, res_id: str, version_id: int, body: bytes) -> bytes:
        return self.keyring.seal(body, associated_data(res_type, res_id, version_id))

    def open(self, res_type: str, res_id: str, version_id: int, sealed: bytes | None) -> bytes | None:
        if sealed is None:
            return None
        return self.keyring.open(bytes(sealed), associated_data(res_type, res_id, version_id))

    # -- reads ---------------------------------------------------------------------------------

    async def read_current(self, res_type: str, res_id: str) -> CurrentRow | None:
        """The current row by type and id, on a connection of its own (the read interaction's path)."""
        async with self.single() as db:
            row = await db.fetchrow(_CURRENT, res_type, res_id)
        return None if row is None else self._current_row(row, res_type, res_id)

    async def current(self, tx: Tx, res_type: str, res_id: str, *, for_update: bool = False) -> CurrentRow | None:
        sql = _CURRENT + " FOR UPDATE" if for_update and not self.is_sqlite else _CURRENT
        row = await tx.db.fetchrow(sql, res_type, res_id)
        return None if row is None else self._current_row(row, res_type, res_id)

    def _current_row(self, row: Any, res_type: str, res_id: str) -> CurrentRow:
        pk, version_id, last_updated, deleted, body = row
        return CurrentRow(pk, res_type, res_id, version_id, last_updated, bool(deleted),
                          self.open(res_type, res_id, version_id, body))

    async def current_by_pks(self, tx: Tx, pks: Sequence[int]) -> list[CurrentRow]:
        """Current rows for the given pks, in the order given (missing pks are skipped)."""
        if not pks:
            return []
        stmt = select(resources).where(resources.c.pk.in_(list(pks)))
        found = {row["pk"]: row for row in await tx.select(stmt)}
        out = []
        for pk in pks:
            row = found.get(pk)
            if row is not None:
                out.append(CurrentRow(row["pk"], row["res_type"], row["res_id"], row["version_id"],
                                      row["last_updated"], bool(row["deleted"]),
                                      self.open(row["res_type"], row["res_id"], row["version_id"], row["body"])))
        return out

    async def version(self, res_type: str, res_id: str, version_id: int) -> VersionRow | None:
        async with self.single() as db:
            row = await db.fetchrow(VERSION_BY_ID, res_type, res_id, version_id)
        if row is None:
            return None
        pk, resource_pk, last_updated, deleted, method, body = row
        return VersionRow(pk, resource_pk, res_type, res_id, version_id, last_updated, bool(deleted), method,
                          self.open(res_type, res_id, version_id, body))

    async def history(self, tx: Tx, query: HistoryQuery) -> list[VersionRow]:
        v = resource_versions
        stmt = select(v)
        if query.res_type is not None:
            stmt = stmt.where(v.c.res_type == query.res_type)
        if query.res_id is not None:  # an instance's versions: by its pk, which leads their unique key
            pk = select(resources.c.pk).where(resources.c.res_type == query.res_type, resources.c.res_id == query.res_id)
            stmt = stmt.where(v.c.resource_pk == pk.scalar_subquery())
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
        return [self._version_row(row) for row in await tx.select(stmt)]

    def _version_row(self, row: dict[str, Any]) -> VersionRow:
        return VersionRow(row["pk"], row["resource_pk"], row["res_type"], row["res_id"], row["version_id"],
                          row["last_updated"], bool(row["deleted"]), row["method"],
                          self.open(row["res_type"], row["res_id"], row["version_id"], row["body"]))

    # -- writes --------------------------------------------------------------------------------

    async def insert(self, tx: Tx, *, res_type: str, res_id: str, body: bytes, last_updated: int,
                     method: str) -> int:
        """A new logical resource at version 1; returns its pk."""
        sealed = self.seal(res_type, res_id, 1, body)
        pk = await tx.db.fetchval(_INSERT_RESOURCE, res_type, res_id, 1, last_updated, False, sealed)
        await tx.db.execute(_INSERT_VERSION, pk, res_type, res_id, 1, last_updated, False, method, sealed)
        return pk

    async def replace(self, tx: Tx, current: CurrentRow, *, body: bytes | None, last_updated: int,
                      method: str) -> int:
        """Write the next version of `current` (body None: a deletion); returns the new version id.

        The row is matched on its version too: if a concurrent writer got there first the update
        matches nothing and the caller's transaction fails instead of losing that write.
        """
        version_id = current.version_id + 1
        deleted = body is None
        sealed = None if body is None else self.seal(current.res_type, current.res_id, version_id, body)
        updated = await tx.db.fetchval(_UPDATE_RESOURCE, version_id, last_updated, deleted, sealed, current.pk,
                                       current.version_id)
        if updated is None:
            raise ConcurrentWrite(f"{current.res_type}/{current.res_id} changed while it was being written")
        await tx.db.execute(_INSERT_VERSION, current.pk, current.res_type, current.res_id, version_id, last_updated,
                            deleted, method, sealed)
        return version_id

    async def write_index(self, tx: Tx, resource_pk: int, res_type: str,
                          rows: Mapping[str, Sequence[Mapping[str, Any]]], *, replace: bool) -> None:
        """Replace the resource's search index rows (all tables) with `rows` (kind -> row values)."""
        if replace:
            if self.is_sqlite:
                for sql in _DELETE_INDEX_ONE.values():
                    await tx.db.execute(sql, resource_pk)
            else:
                await tx.db.execute(_DELETE_INDEX_PG, resource_pk)
        for kind, kind_rows in rows.items():
            if kind_rows:
                columns = _INDEX_COLUMNS[kind]
                await tx.db.executemany(_INSERT_INDEX[kind], [
                    (resource_pk, res_type, *(row.get(c) for c in columns)) for row in kind_rows])

    async def record_change(self, tx: Tx, *, res_type: str, res_id: str, version_id: int, action: str,
                            at: int) -> None:
        await tx.db.execute(_INSERT_CHANGE, at, res_type, res_id, version_id, action)


async def _roll_back(raw: Any) -> None:
    try:
        await raw.execute("ROLLBACK")
    except Exception:
        raw.terminate()  # a connection in an unknown state never goes back to the pool
