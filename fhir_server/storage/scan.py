"""Keyset scans of stored resources in bounded batches, for bulk export and reindexing.

`ResourceScanner.versions()` reads, for one resource type, the version of each resource that was
current at an instant `at` (the export's transactionTime), in (last_updated, pk) order of
`resource_versions`. Versions written up to `at` never change, so the set a scan walks is fixed:
a cursor saved between batches (or across a worker restart) resumes it exactly, with nothing
missed and nothing repeated, however much is written meanwhile.

    SELECT v.pk, v.res_id, v.version_id, v.last_updated, v.deleted, length(v.body)
    FROM resource_versions v
    WHERE v.res_type = :type AND v.last_updated <= :at [AND v.last_updated > :since]
      AND (v.last_updated, v.pk) > (:cursor)
      AND NOT EXISTS (the next version, written up to :at)       -- superseded before `at`
      [AND v.resource_pk IN (:filter) ...]                       -- compartment, group, _typeFilter
    ORDER BY v.last_updated, v.pk LIMIT :rows

Each batch is bounded by rows and by bytes: the first query returns the sizes of the sealed bodies
without their content, the batch is cut where the sizes pass the byte budget (at least one row is
always taken), and only then are those bodies fetched by primary key and opened. Memory therefore
stays bounded however large single resources are.

`ResourceScanner.current()` walks the current, not deleted rows of `resources` by pk (reindexing).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Select,
    and_,
    bindparam,
    exists,
    false,
    func,
    select,
    tuple_,
)

from fhir_server.db.tables import resource_versions, resources
from fhir_server.storage.repository import ResourceStore, Tx

__all__ = ["Cursor", "START", "ScannedVersion", "VersionBatch", "VersionScan", "CurrentBatch", "ResourceScanner"]

Cursor = tuple[int, int]  # (last_updated, pk) of the last version returned
START: Cursor = (-(2**62), 0)


@dataclass(frozen=True, slots=True)
class ScannedVersion:
    """One version as of the scan's instant; `body` is the opened JSON (None for a deletion)."""

    res_type: str
    res_id: str
    version_id: int
    last_updated: int
    deleted: bool
    body: bytes | None


@dataclass(frozen=True, slots=True)
class VersionBatch:
    versions: list[ScannedVersion]
    cursor: Cursor
    done: bool


@dataclass(frozen=True, slots=True)
class VersionScan:
    """What to scan: `res_type` as of `at`; versions changed after `since` only; `resource_filters`
    `Select`s of resources.pk the resource must be among, every one (compartment, group, _typeFilter);
    `deletions`: also return versions that are deletions (else they are skipped)."""

    res_type: str
    at: int
    since: int | None = None
    resource_filters: tuple[Select[Any], ...] = ()
    deletions: bool = False


@dataclass(frozen=True, slots=True)
class CurrentBatch:
    rows: list[tuple[int, str, int, bytes]]  # (pk, res_id, version_id, opened body)
    last_pk: int
    done: bool


def _version_conditions(scan: VersionScan, after_lu: Any, after_pk: Any) -> list[ColumnElement[bool]]:
    v = resource_versions
    following = resource_versions.alias("following")
    superseded = exists().where(
        following.c.resource_pk == v.c.resource_pk,
        following.c.version_id == v.c.version_id + 1,
        following.c.last_updated <= scan.at,
    )
    conditions = [
        v.c.res_type == scan.res_type,
        v.c.last_updated <= scan.at,
        # the plain bound lets the (res_type, last_updated) index find the start of the page
        v.c.last_updated >= after_lu,
        tuple_(v.c.last_updated, v.c.pk) > tuple_(after_lu, after_pk),
        ~superseded,
    ]
    if scan.since is not None:
        conditions.append(v.c.last_updated > scan.since)
    if not scan.deletions:
        conditions.append(v.c.deleted.is_(false()))
    conditions.extend(v.c.resource_pk.in_(selected) for selected in scan.resource_filters)
    return conditions


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A scan's first statement compiled once: SQL text and its parameters, the cursor's to fill in."""

    sql: str
    values: tuple[Any, ...]
    cursor_at: tuple[int, int, int]  # positions of the cursor's last_updated (two) and pk
    limit_at: int


_AFTER_LU, _AFTER_PK, _LIMIT = "scan_after_lu", "scan_after_pk", "scan_limit"


class ResourceScanner:
    """Bounded batches of stored resources, opened (decrypted) with the store's keyring.

    The statements of a scan are compiled once and run through the driver (not SQLAlchemy) per
    batch; on PostgreSQL the bodies are fetched with `pk = ANY($1)`.
    """

    def __init__(self, store: ResourceStore) -> None:
        self.store = store
        self._prepared: dict[int, tuple[VersionScan, _Prepared]] = {}

    async def begin(self, tx: Tx) -> None:
        """Set the transaction up for many short batch queries: on PostgreSQL without parallel workers,
        whose start-up costs more than they save on a batch of a few thousand rows."""
        if not self.store.is_sqlite:
            await tx.db.execute("SET LOCAL max_parallel_workers_per_gather = 0")

    def _prepare(self, tx: Tx, scan: VersionScan) -> _Prepared:
        found = self._prepared.get(id(scan))
        if found is not None and found[0] is scan:
            return found[1]
        v = resource_versions
        stmt = (
            select(v.c.pk, v.c.res_id, v.c.version_id, v.c.last_updated, v.c.deleted,
                   func.coalesce(func.length(v.c.body), 0).label("size"))
            .where(and_(*_version_conditions(scan, bindparam(_AFTER_LU, 0, type_=BigInteger),
                                             bindparam(_AFTER_PK, 0, type_=BigInteger))))
            .order_by(v.c.last_updated, v.c.pk)
            .limit(bindparam(_LIMIT, 1, type_=Integer))
        )
        compiled = stmt.compile(dialect=tx.dialect, compile_kwargs={"render_postcompile": True})
        names = list(compiled.positiontup or [])
        processors = getattr(compiled, "_bind_processors", {})
        values = []
        for name in names:
            value = compiled.params.get(name)
            processor = processors.get(name)
            values.append(processor(value) if processor is not None and value is not None else value)
        lu_positions = [i for i, name in enumerate(names) if name == _AFTER_LU]
        prepared = _Prepared(str(compiled), tuple(values),
                             (lu_positions[0], lu_positions[-1], names.index(_AFTER_PK)), names.index(_LIMIT))
        if len(self._prepared) > 64:
            self._prepared.clear()
        self._prepared[id(scan)] = (scan, prepared)
        return prepared

    async def versions(self, tx: Tx, scan: VersionScan, cursor: Cursor, *, max_rows: int = 2000,
                       max_bytes: int = 8 * 1024 * 1024) -> VersionBatch:
        """The next batch after `cursor`: at most `max_rows` versions whose sealed bodies add up to
        about `max_bytes` (one more body at most); `done` when the scan has nothing after it.
        Reuse one `scan` object for its batches: its statement is compiled on first use."""
        prepared = self._prepare(tx, scan)
        values = list(prepared.values)
        first_lu, second_lu, pk_at = prepared.cursor_at
        values[first_lu] = values[second_lu] = cursor[0]
        values[pk_at] = cursor[1]
        values[prepared.limit_at] = max_rows
        rows = await tx.db.fetch(prepared.sql, *values)
        taken: list[Any] = []
        total = 0
        for row in rows:  # pk, res_id, version_id, last_updated, deleted, size
            if taken and total + row[5] > max_bytes:
                break
            taken.append(row)
            total += row[5]
        if not taken:
            return VersionBatch([], cursor, True)
        bodies = await self._bodies(tx, [row[0] for row in taken if not row[4]])
        open_body = self.store.open
        res_type = scan.res_type
        versions = [
            ScannedVersion(res_type, res_id, version_id, last_updated, bool(deleted),
                           None if deleted else open_body(res_type, res_id, version_id, bodies[pk]))
            for pk, res_id, version_id, last_updated, deleted, _ in taken
        ]
        last = taken[-1]
        done = len(taken) == len(rows) and len(rows) < max_rows
        return VersionBatch(versions, (last[3], last[0]), done)

    async def _bodies(self, tx: Tx, pks: list[int]) -> dict[int, bytes]:
        if not pks:
            return {}
        if self.store.is_sqlite:
            sql = f"SELECT pk, body FROM resource_versions WHERE pk IN ({', '.join(f'${n}' for n in range(1, len(pks) + 1))})"
            rows = await tx.db.fetch(sql, *pks)
        else:
            rows = await tx.db.fetch("SELECT pk, body FROM resource_versions WHERE pk = ANY($1::bigint[])", pks)
        return {pk: body for pk, body in rows}

    async def estimate(self, tx: Tx, scan: VersionScan) -> int:
        """About how many resources the scan returns: the current ones of the type that pass its
        filter (for progress reports; cheaper than counting the versions themselves)."""
        r = resources
        stmt = select(func.count().label("n")).where(r.c.res_type == scan.res_type, r.c.deleted.is_(false()))
        if scan.since is not None:
            stmt = stmt.where(r.c.last_updated > scan.since)
        for selected in scan.resource_filters:
            stmt = stmt.where(r.c.pk.in_(selected))
        rows = await tx.select(stmt)
        return int(rows[0]["n"]) if rows else 0

    async def current(self, tx: Tx, res_type: str, after_pk: int, *, max_rows: int = 500) -> CurrentBatch:
        """Current, not deleted rows of `res_type` with pk above `after_pk`, in pk order."""
        r = resources
        stmt = (
            select(r.c.pk, r.c.res_id, r.c.version_id, r.c.body)
            .where(r.c.res_type == res_type, r.c.pk > after_pk, r.c.deleted.is_(false()))
            .order_by(r.c.pk)
            .limit(max_rows)
        )
        rows = await tx.select(stmt)
        opened = [(row["pk"], row["res_id"], row["version_id"],
                   self.store.open(res_type, row["res_id"], row["version_id"], row["body"]) or b"")
                  for row in rows]
        return CurrentBatch(opened, rows[-1]["pk"] if rows else after_pk, len(rows) < max_rows)
