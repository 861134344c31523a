"""Building `analytics_encounters` from the stored Encounters: the `analytics.rebuild` job.

Needed once for data written before the projection existed (or when `VERSION` changes what it
holds). The job runs as a chain of short slices, each in its job's own transaction: it drops the rows of
deleted Encounters in its first slice, then (re)writes the rows of the next Encounters by pk for up to
`slice_seconds`, and enqueues its successor with the cursor, so it never holds a write lock for
long and resumes where it stopped after a restart. The last slice records `VERSION` under the
`consumer_offsets` name `analytics.encounters`; `ensure()` enqueues the chain when the projection is
not built (a database whose every Encounter was written since the projection existed counts as built).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from fhir_server.analytics.projection import EncounterProjection
from fhir_server.jobs import Job, JobQueue
from fhir_server.storage.driver import ConcurrentWrite
from fhir_server.storage.repository import ResourceStore, Tx
from fhir_server.storage.scan import ResourceScanner
from resources import fhir_json

__all__ = ["REBUILD", "VERSION", "OFFSET_NAME", "ProjectionRebuild"]

REBUILD = "analytics.rebuild"
# bump when the projection's columns or their meaning change
VERSION = 1
OFFSET_NAME = "analytics.encounters"

_OFFSET = "SELECT position FROM consumer_offsets WHERE name = $1"
_MISSING = ("SELECT r.pk FROM resources r WHERE r.res_type = 'Encounter' AND r.deleted = $1 AND NOT EXISTS "
            "(SELECT 1 FROM analytics_encounters a WHERE a.resource_pk = r.pk) LIMIT 1")
_STALE = ("DELETE FROM analytics_encounters WHERE resource_pk IN "
          "(SELECT pk FROM resources WHERE res_type = 'Encounter' AND deleted = $1)")
_SET_OFFSET = ("INSERT INTO consumer_offsets (name, position) VALUES ($1, $2) "
               "ON CONFLICT (name) DO UPDATE SET position = excluded.position")


class ProjectionRebuild:
    def __init__(self, store: ResourceStore, projection: EncounterProjection, jobs: JobQueue, *,
                 slice_seconds: float = 1.0, batch_rows: int = 500) -> None:
        self.store = store
        self.projection = projection
        self.jobs = jobs
        self.scanner = ResourceScanner(store)
        self.slice_seconds = slice_seconds
        self.batch_rows = batch_rows

    async def built(self) -> bool:
        """True when the projection holds every current Encounter: recorded by a finished rebuild, or
        found so (every Encounter written since the projection existed; then it is recorded)."""
        async with self.store.single() as db:
            if (await db.fetchval(_OFFSET, OFFSET_NAME) or 0) >= VERSION:
                return True
            if await db.fetchval(_MISSING, False) is not None:
                return False
        async with self.store.write() as tx:
            await tx.db.execute(_SET_OFFSET, OFFSET_NAME, VERSION)
        return True

    async def ensure(self) -> bool:
        """Enqueue the rebuild unless the projection is current (or a rebuild is queued); True if enqueued."""
        if await self.built():
            return False
        with contextlib.suppress(ConcurrentWrite):  # another process enqueued it first
            async with self.store.write() as tx:
                return await self.jobs.enqueue(tx, REBUILD, {"after": 0, "first": True},
                                               dedupe_key=f"{REBUILD}:v{VERSION}") is not None
        return False

    async def __call__(self, job: Job, tx: Tx) -> dict[str, Any]:
        """One slice of the rebuild (a job handler)."""
        after = int(job.payload.get("after", 0))
        if job.payload.get("first"):
            await tx.db.execute(_STALE, True)
        deadline = time.monotonic() + self.slice_seconds
        written = 0
        while True:
            batch = await self.scanner.current(tx, "Encounter", after, max_rows=self.batch_rows)
            if batch.rows:
                await self.projection.write_encounters(
                    tx, [(pk, fhir_json.loads(body)) for pk, _, _, body in batch.rows])
                written += len(batch.rows)
            after = batch.last_pk
            if batch.done:
                await tx.db.execute(_SET_OFFSET, OFFSET_NAME, VERSION)
                return {"written": written, "done": True}
            if time.monotonic() >= deadline:
                await self.jobs.enqueue(tx, REBUILD, {"after": after})
                return {"written": written, "after": after}
