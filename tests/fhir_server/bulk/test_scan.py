"""`storage/scan.py`: keyset scans of the versions current at an instant, in batches bounded by bytes."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from fhir_server.db.tables import resources
from fhir_server.storage.instants import now_micros
from fhir_server.storage.scan import START, ResourceScanner, VersionScan
from tests.fhir_server.bulk.harness import Harness
from tests.fhir_server.bulk.samples import observation


async def all_versions(scanner: ResourceScanner, h: Harness, scan: VersionScan, **limits) -> list:
    out, cursor, batches = [], START, 0
    async with h.runtime.store.read() as tx:
        while True:
            batch = await scanner.versions(tx, scan, cursor, **limits)
            out += batch.versions
            cursor = batch.cursor
            batches += 1
            if batch.done:
                return out, batches


async def test_batches_are_bounded_by_bytes_and_rows(h: Harness):
    for n in range(12):
        big = observation(f"o{n}", "p", "2024-01-01T00:00:00Z", n)
        big["code"]["text"] = "x" * (2000 if n % 3 == 0 else 10)
        await h.put(big)
    scanner = ResourceScanner(h.runtime.store)
    scan = VersionScan("Observation", at=now_micros())
    found, batches = await all_versions(scanner, h, scan, max_rows=100, max_bytes=2500)
    assert sorted(v.res_id for v in found) == sorted(f"o{n}" for n in range(12))
    assert batches >= 4  # each large body fills most of a batch on its own
    _, by_rows = await all_versions(scanner, h, scan, max_rows=5, max_bytes=10**9)
    assert by_rows == 3
    single, _ = await all_versions(scanner, h, scan, max_rows=100, max_bytes=1)
    assert len(single) == 12  # a body over the budget still comes, one at a time


async def test_a_scan_sees_the_versions_current_at_its_instant(h: Harness):
    await h.put(observation("a", "p", "2024-01-01T00:00:00Z", 1))
    await h.put(observation("b", "p", "2024-01-01T00:00:00Z", 1))
    await asyncio.sleep(0.002)
    at = now_micros()
    await asyncio.sleep(0.002)
    await h.put(observation("a", "p", "2024-01-01T00:00:00Z", 2))
    await h.put(observation("c", "p", "2024-01-01T00:00:00Z", 1))
    assert (await h.http.delete("/fhir/Observation/b")).status_code in (200, 204)
    scanner = ResourceScanner(h.runtime.store)
    found, _ = await all_versions(scanner, h, VersionScan("Observation", at=at))
    assert [(v.res_id, v.version_id) for v in sorted(found, key=lambda v: v.res_id)] == [("a", 1), ("b", 1)]
    assert b'"value":1' in found[0].body
    now, _ = await all_versions(scanner, h, VersionScan("Observation", at=now_micros(), since=at, deletions=True))
    assert sorted((v.res_id, v.deleted) for v in now) == [("a", False), ("b", True), ("c", False)]


async def test_filters_and_the_estimate(h: Harness):
    for n in range(4):
        await h.put(observation(f"o{n}", "p" if n % 2 else "q", "2024-01-01T00:00:00Z", n))
    scanner = ResourceScanner(h.runtime.store)
    odd = select(resources.c.pk).where(resources.c.res_id.in_(["o1", "o3"]))
    scan = VersionScan("Observation", at=now_micros(), resource_filters=(odd,))
    found, _ = await all_versions(scanner, h, scan)
    assert sorted(v.res_id for v in found) == ["o1", "o3"]
    async with h.runtime.store.read() as tx:
        assert await scanner.estimate(tx, scan) == 2
        current = await scanner.current(tx, "Observation", 0, max_rows=3)
    assert len(current.rows) == 3 and not current.done
