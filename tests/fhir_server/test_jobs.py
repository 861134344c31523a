"""The durable job queue and worker, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from fhir_server.jobs import DONE, FAILED, QUEUED, JobQueue, PermanentJobError, Worker


async def enqueue(runtime, kind, payload, **kwargs):
    async with runtime.store.write() as tx:
        return await runtime.jobs.enqueue(tx, kind, payload, **kwargs)


async def test_a_job_runs_once_and_its_result_is_kept(runtime):
    pk = await enqueue(runtime, "double", {"n": 21})
    ran = []

    async def double(job, tx):
        ran.append(job.payload["n"])
        return {"value": job.payload["n"] * 2}

    worker = Worker(runtime.jobs, {"double": double})
    assert await worker.run_until_idle() == 1
    assert ran == [21]
    status = await runtime.jobs.status(pk)
    assert status["status"] == DONE and status["result"] == {"value": 42}
    assert await worker.run_until_idle() == 0


async def test_enqueue_is_part_of_the_callers_transaction(runtime):
    try:
        async with runtime.store.write() as tx:
            await runtime.jobs.enqueue(tx, "never", {})
            raise RuntimeError("the write failed")
    except RuntimeError:
        pass
    worker = Worker(runtime.jobs, {"never": lambda job, tx: None})
    assert await worker.run_until_idle() == 0


async def test_dedupe_key(runtime):
    assert await enqueue(runtime, "k", {}, dedupe_key="same") is not None
    assert await enqueue(runtime, "k", {}, dedupe_key="same") is None


async def test_transient_failures_retry_and_permanent_ones_stop(runtime):
    flaky = await enqueue(runtime, "flaky", {})
    bad = await enqueue(runtime, "bad", {})

    async def fail_once(job, tx):
        if job.attempts == 1:
            raise ConnectionError("lost the connection")
        return {"ok": True}

    async def refuse(job, tx):
        raise PermanentJobError("the document is not a lab report")

    worker = Worker(runtime.jobs, {"flaky": fail_once, "bad": refuse})
    await worker.run_until_idle()
    assert (await runtime.jobs.status(flaky))["status"] == QUEUED  # waits out its backoff
    bad_status = await runtime.jobs.status(bad)
    assert bad_status["status"] == FAILED and "not a lab report" in bad_status["result"]["error"]
    async with runtime.store.write() as tx:
        await tx.db.execute("UPDATE jobs SET run_after = 0 WHERE pk = $1", flaky)
    await worker.run_until_idle()
    assert (await runtime.jobs.status(flaky))["status"] == DONE


async def test_a_dead_workers_job_is_claimed_again_after_its_lease(runtime):
    pk = await enqueue(runtime, "slow", {})
    queue = JobQueue(runtime.store, lease_seconds=30)
    claimed = await queue.claim("worker-that-dies", ["slow"])
    assert claimed is not None and claimed.pk == pk
    assert await queue.claim("other", ["slow"]) is None  # leased
    async with runtime.store.write() as tx:  # the lease runs out without its worker renewing it
        await tx.db.execute("UPDATE jobs SET locked_until = 0 WHERE pk = $1", pk)
    again = await queue.claim("other", ["slow"])
    assert again is not None and again.pk == pk and again.attempts == 2


async def test_concurrent_workers_never_run_a_job_twice(runtime):
    for n in range(20):
        await enqueue(runtime, "count", {"n": n})
    seen = []

    async def count(job, tx):
        seen.append(job.payload["n"])
        await asyncio.sleep(0)
        return {}

    workers = [Worker(runtime.jobs, {"count": count}, worker_id=f"w{i}") for i in range(3)]
    await asyncio.gather(*(w.run_until_idle() for w in workers))
    assert sorted(seen) == list(range(20))
