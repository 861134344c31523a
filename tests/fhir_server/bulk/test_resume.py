"""An export runs in committed slices: it resumes after a crash from its last committed file position."""

from __future__ import annotations

import asyncio

from fhir_server.jobs import JobQueue, Worker
from tests.fhir_server.bulk.harness import ASYNC, Harness
from tests.fhir_server.bulk.samples import hospital, observation


async def load(h: Harness, extra_observations: int = 40) -> None:
    for resource in hospital():
        await h.put(resource)
    for n in range(extra_observations):
        await h.put(observation(f"extra-{n}", "ada", f"2024-04-{n % 28 + 1:02d}T09:00:00Z", 70 + n))


async def kick_off(h: Harness, **params: str) -> str:
    response = await h.http.get("/fhir/$export", params=params, headers=ASYNC)
    assert response.status_code == 202, response.text
    return response.headers["content-location"].removeprefix("http://testserver")


def export_worker(h: Harness) -> Worker:
    """A worker of export slices only (the audit trail's job is queued too, and would be run first)."""
    return Worker(h.runtime.jobs, h.runtime.bulk_exports.job_handlers(), slots=1)


def export_dir(h: Harness, status: str):
    return h.runtime.bulk_exports.config.root / status.rsplit("/", 1)[1]


async def test_slices_resume_after_a_crash_without_losing_or_repeating_anything(h: Harness, monkeypatch):
    await load(h)
    h.tune(batch_rows=4, slice_seconds=0.0, max_file_bytes=4096)
    status = await kick_off(h, _type="Observation,Patient")
    worker = export_worker(h)
    assert await worker.run_one()  # one committed slice
    progress = await h.http.get(status)
    assert progress.status_code == 202 and progress.headers["x-progress"] == "7% (4 of about 52 resources; exporting Observation)"

    # a slice that dies half-way: its lines reach the file, its state never commits
    runner = h.runtime.bulk_exports.runner
    real = runner.scanner.versions
    calls = {"n": 0}

    async def dies_on_second_batch(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise ConnectionError("the worker lost its database")
        return await real(*args, **kwargs)

    monkeypatch.setattr(runner.scanner, "versions", dies_on_second_batch)
    h.tune(slice_seconds=60.0)
    runner.config = h.runtime.bulk_exports.config
    assert await worker.run_one()
    files = sorted(export_dir(h, status).glob("Observation-*.ndjson"))
    written_before = sum(len(f.read_bytes().splitlines()) for f in files)
    assert written_before > 4  # more on disk than committed
    monkeypatch.setattr(runner.scanner, "versions", real)

    # the job is retried from the committed state (its backoff skipped here)
    async with h.runtime.store.write() as tx:
        await tx.db.execute("UPDATE jobs SET run_after = 0 WHERE status = 'queued'")
    h.tune(slice_seconds=0.0)
    await h.run_jobs()
    manifest = await h.manifest(status)
    observations = await h.lines(manifest, "Observation")
    ids = [o["id"] for o in observations]
    assert len(ids) == len(set(ids)) == 49
    files = [item for item in manifest["output"] if item["type"] == "Observation"]
    assert len(files) > 1 and sum(item["count"] for item in files) == 49  # split at max_file_bytes


async def test_a_job_of_a_worker_that_died_is_taken_over(h: Harness):
    await load(h, extra_observations=5)
    h.tune(batch_rows=3, slice_seconds=0.0)
    status = await kick_off(h, _type="Observation")
    short = JobQueue(h.runtime.store, lease_seconds=0.05)
    assert await short.claim("worker-that-dies", ["bulk.export"]) is not None
    await asyncio.sleep(0.1)
    survivor = Worker(short, h.runtime.job_handlers, worker_id="survivor")
    assert await survivor.run_until_idle() > 1
    manifest = await h.manifest(status)
    assert sum(item["count"] for item in manifest["output"]) == 14


async def test_garbage_after_the_committed_position_is_cut_off(h: Harness):
    await load(h, extra_observations=10)
    h.tune(batch_rows=5, slice_seconds=0.0)
    status = await kick_off(h, _type="Observation")
    assert await export_worker(h).run_one()
    current = sorted(export_dir(h, status).glob("Observation-*.ndjson"))[-1]
    with current.open("ab") as handle:
        handle.write(b'{"resourceType":"Observation","id":"half-writt')
    await h.run_jobs()
    observations = await h.lines(await h.manifest(status), "Observation")
    assert len(observations) == 19 and all(o["resourceType"] == "Observation" for o in observations)


async def test_a_job_that_fails_for_good_fails_the_export(h: Harness):
    await load(h, extra_observations=0)
    response = await h.http.get("/fhir/Group/cohort/$export", headers=ASYNC)
    status = response.headers["content-location"].removeprefix("http://testserver")
    assert (await h.http.delete("/fhir/Group/cohort")).status_code in (200, 204)
    await h.run_jobs()
    failed = await h.http.get(status)
    assert failed.status_code == 500
    assert "Group/cohort" in failed.json()["issue"][0]["diagnostics"]
