"""A handler's slow `prepare` runs outside any transaction, under a lease that is kept renewed."""

from __future__ import annotations

import asyncio

from fhir_server.jobs import DONE, FAILED, JobQueue, PermanentJobError, PreparingHandler, Worker


async def enqueue(runtime, kind, payload):
    async with runtime.store.write() as tx:
        return await runtime.jobs.enqueue(tx, kind, payload)


async def open_transactions(runtime) -> int:
    """PostgreSQL sessions of this database inside a transaction, this query's own excepted."""
    async with runtime.store.single() as db:
        return await db.fetchval("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                 "AND pid <> pg_backend_pid() AND xact_start IS NOT NULL")


async def test_other_writes_commit_while_a_job_prepares(runtime):
    pk = await enqueue(runtime, "slow", {"n": 2})
    preparing, release = asyncio.Event(), asyncio.Event()

    async def prepare(job):
        preparing.set()
        await release.wait()
        return job.payload["n"] * 10

    async def write(job, tx, prepared):
        await tx.db.execute("INSERT INTO consumer_offsets (name, position) VALUES ('prepared', $1)", prepared)
        return {"prepared": prepared}

    worker = Worker(runtime.jobs, {"slow": PreparingHandler(prepare, write)})
    running = asyncio.create_task(worker.run_until_idle())
    await asyncio.wait_for(preparing.wait(), 10)
    async with asyncio.timeout(5), runtime.store.write() as tx:  # SQLite: the one writer lock is free
        await tx.db.execute("INSERT INTO consumer_offsets (name, position) VALUES ('meanwhile', 1)")
    if not runtime.store.is_sqlite:
        assert await open_transactions(runtime) == 0
    release.set()
    assert await running == 1
    assert (await runtime.jobs.status(pk))["result"] == {"prepared": 20}


async def test_the_lease_is_renewed_while_preparing(runtime):
    queue = JobQueue(runtime.store, lease_seconds=0.6)
    async with runtime.store.write() as tx:
        pk = await queue.enqueue(tx, "slow", {})

    async def prepare(job):
        await asyncio.sleep(1.5)
        assert await queue.claim("another-worker", ["slow"]) is None  # still leased to the first

    async def write(job, tx, prepared):
        return {"attempts": job.attempts}

    assert await Worker(queue, {"slow": PreparingHandler(prepare, write)}).run_until_idle() == 1
    status = await queue.status(pk)
    assert status["status"] == DONE and status["result"] == {"attempts": 1}


async def test_a_prepare_that_refuses_the_job_fails_it_without_a_write(runtime):
    pk = await enqueue(runtime, "bad", {})
    wrote = []

    async def prepare(job):
        raise PermanentJobError("the document is over the page limit")

    async def write(job, tx, prepared):
        wrote.append(job)
        return {}

    await Worker(runtime.jobs, {"bad": PreparingHandler(prepare, write)}).run_until_idle()
    status = await runtime.jobs.status(pk)
    assert status["status"] == FAILED and "page limit" in status["result"]["error"]
    assert wrote == []
