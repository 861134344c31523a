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

from sqlalchemy import ColumnElement, Select, and_, exists, false, func, select, tuple_

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


def _version_conditions(scan: VersionScan, cursor: Cursor) -> list[ColumnElement[bool]]:
    v = resource_versions
    following = resource_versions.alias("following")
    superseded = exists().where(
        following.c.res_type == v.c.res_type,
        following.c.res_id == v.c.res_id,
        following.c.version_id == v.c.version_id + 1,
        following.c.last_updated <= scan.at,
    )
    after_lu, after_pk = cursor
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


class ResourceScanner:
    """Bounded batches of stored resources, opened (decrypted) with the store's keyring."""

    def __init__(self, store: ResourceStore) -> None:
        self.store = store

    async def versions(self, tx: Tx, scan: VersionScan, cursor: Cursor, *, max_rows: int = 2000,
                       max_bytes: int = 8 * 1024 * 1024) -> VersionBatch:
        """The next batch after `cursor`: at most `max_rows` versions whose sealed bodies add up to
        about `max_bytes` (one more body at most); `done` when the scan has nothing after it."""
        v = resource_versions
        stmt = (
            select(v.c.pk, v.c.res_id, v.c.version_id, v.c.last_updated, v.c.deleted,
                   func.coalesce(func.length(v.c.body), 0).label("size"))
            .where(and_(*_version_conditions(scan, cursor)))
            .order_by(v.c.last_updated, v.c.pk)
            .limit(max_rows)
        )
        rows = await tx.select(stmt)
        taken, total = [], 0
        for row in rows:
            if taken and total + row["size"] > max_bytes:
                break
            taken.append(row)
            total += row["size"]
        if not taken:
            return VersionBatch([], cursor, True)
        bodies = await self._bodies(tx, [row["pk"] for row in taken if not row["deleted"]])
        versions = [
            ScannedVersion(scan.res_type, row["res_id"], row["version_id"], row["last_updated"], bool(row["deleted"]),
                           None if row["deleted"] else
                           self.store.open(scan.res_type, row["res_id"], row["version_id"], bodies[row["pk"]]))
            for row in taken
        ]
        last = taken[-1]
        done = len(taken) == len(rows) and len(rows) < max_rows
        return VersionBatch(versions, (last["last_updated"], last["pk"]), done)

    async def _bodies(self, tx: Tx, pks: list[int]) -> dict[int, bytes]:
        if not pks:
            return {}
        v = resource_versions
        rows = await tx.select(select(v.c.pk, v.c.body).where(v.c.pk.in_(pks)))
        return {row["pk"]: row["body"] for row in rows}

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
