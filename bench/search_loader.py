"""Loading the benchmark data fast: rows built with the server's own write path, copied in bulk.

Each resource is stamped (`meta.versionId`, `meta.lastUpdated`) and serialised exactly as a create
would, sealed with AES-256-GCM under the server's key (associated data `Type/id/1`), and indexed with
the server's `extract()`; the rows then go to PostgreSQL with COPY from several processes at once.
The secondary indexes are dropped before and built again after (much faster than keeping them up to
date row by row); primary keys are assigned from the patient number, so slices never collide.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import asyncpg

from bench.search_data import Plan, patient_resources, shared_resources
from fhir_server.db.tables import SEARCH_INDEX_TABLES
from fhir_server.search import SearchRegistry, extract
from fhir_server.services.preparation import stamp
from fhir_server.storage.crypto import Keyring, associated_data
from resources import fhir_json

__all__ = ["load", "SLOTS"]

SLOTS = 64  # primary keys per patient: patient i's resources get i * SLOTS + 1 ...
BATCH = 400  # patients per COPY round
_START = 1_700_000_000_000_000  # lastUpdated of the first resource (microseconds)
_INDEX_COLUMNS = {kind: [c.name for c in table.columns if c.name != "pk"] for kind, table in SEARCH_INDEX_TABLES.items()}
_TABLES = ["resources", "resource_versions", *(t.name for t in SEARCH_INDEX_TABLES.values())]


class _Rows:
    def __init__(self) -> None:
        self.resources: list[tuple[Any, ...]] = []
        self.versions: list[tuple[Any, ...]] = []
        self.index: dict[str, list[tuple[Any, ...]]] = {kind: [] for kind in SEARCH_INDEX_TABLES}

    def add(self, registry: SearchRegistry, keyring: Keyring, pk: int, resource: dict[str, Any]) -> None:
        res_type, res_id = resource["resourceType"], resource["id"]
        last_updated = _START + pk * 1000
        stamped = stamp(resource, res_id=res_id, version_id=1, last_updated=last_updated)
        sealed = keyring.seal(fhir_json.dumps(stamped), associated_data(res_type, res_id, 1))
        self.resources.append((pk, res_type, res_id, 1, last_updated, False, sealed))
        self.versions.append((pk, pk, res_type, res_id, 1, last_updated, False, "POST", sealed))
        for kind, rows in extract(registry, stamped).items():
            columns = _INDEX_COLUMNS[kind]
            self.index[kind].extend(tuple({**row, "resource_pk": pk}.get(c) for c in columns) for row in rows)

    async def copy(self, conn: asyncpg.Connection) -> int:
        await conn.copy_records_to_table("resources", records=self.resources, columns=[
            "pk", "res_type", "res_id", "version_id", "last_updated", "deleted", "body"])
        await conn.copy_records_to_table("resource_versions", records=self.versions, columns=[
            "pk", "resource_pk", "res_type", "res_id", "version_id", "last_updated", "deleted", "method", "body"])
        for kind, rows in self.index.items():
            if rows:
                await conn.copy_records_to_table(SEARCH_INDEX_TABLES[kind].name, records=rows,
                                                 columns=_INDEX_COLUMNS[kind])
        return len(self.resources)


async def _load_slice(dsn: str, key: str, plan: Plan, start: int, stop: int, shared: bool) -> int:
    registry = SearchRegistry.from_definitions()
    keyring = Keyring.from_environment(key)
    conn = await asyncpg.connect(dsn)
    loaded = 0
    try:
        if shared:
            rows = _Rows()
            for j, resource in enumerate(shared_resources(plan)):
                rows.add(registry, keyring, plan.patients * SLOTS + 1 + j, resource)
            loaded += await rows.copy(conn)
        for first in range(start, stop, BATCH):
            rows = _Rows()
            for i in range(first, min(first + BATCH, stop)):
                for k, resource in enumerate(patient_resources(i, plan)):
                    rows.add(registry, keyring, i * SLOTS + 1 + k, resource)
            loaded += await rows.copy(conn)
    finally:
        await conn.close()
    return loaded


def _slice(args: tuple[str, str, Plan, int, int, bool]) -> int:
    return asyncio.run(_load_slice(*args))


async def _secondary_indexes(conn: asyncpg.Connection) -> list[tuple[str, str]]:
    rows = await conn.fetch(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = 'public' AND i.tablename = ANY($1) "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)", _TABLES)
    return [(row["indexname"], row["indexdef"]) for row in rows]


async def load(dsn: str, key: str, plan: Plan, *, processes: int = 2, log: Any = print) -> int:
    """Load the plan's resources into the (empty, migrated) database at `dsn`; returns how many."""
    conn = await asyncpg.connect(dsn)
    try:
        indexes = await _secondary_indexes(conn)
        for name, _ in indexes:
            await conn.execute(f'DROP INDEX "{name}"')
        started = time.monotonic()
        step = -(-plan.patients // processes)
        slices = [(dsn, key, plan, n * step, min((n + 1) * step, plan.patients), n == 0) for n in range(processes)]
        loop = asyncio.get_running_loop()
        with ProcessPoolExecutor(processes) as pool:
            counts = await asyncio.gather(*(loop.run_in_executor(pool, _slice, args) for args in slices))
        total = sum(counts)
        log(f"copied {total:,} resources in {time.monotonic() - started:.0f} s; building {len(indexes)} indexes")
        started = time.monotonic()
        await conn.execute("SET maintenance_work_mem = '1GB'")
        await conn.execute("SET max_parallel_maintenance_workers = 2")
        await _run_all(dsn, [definition for _, definition in indexes])
        for table in ("resources", "resource_versions", *(t.name for t in SEARCH_INDEX_TABLES.values())):
            await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'pk'), "
                               f"(SELECT coalesce(max(pk), 0) + 1 FROM {table}), false)")
        await conn.execute("VACUUM ANALYZE")
        log(f"indexes built and tables analysed in {time.monotonic() - started:.0f} s")
        return total
    finally:
        await conn.close()


async def _run_all(dsn: str, statements: Iterable[str], connections: int = 2) -> None:
    """Run the statements on a few connections at once (index builds of different tables in parallel)."""
    queue = list(statements)

    async def worker() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("SET maintenance_work_mem = '512MB'")
            while queue:
                await conn.execute(queue.pop())
        finally:
            await conn.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
