"""A `BatchHandler` runs queued jobs of its kind together, in one transaction; a batch that fails is
run again one job at a time, so only the job that cannot succeed fails. On SQLite and PostgreSQL."""

from __future__ import annotations

from fhir_server.jobs import DONE, FAILED, QUEUED, BatchHandler, PermanentJobError, Worker


async def enqueue(runtime, kind, payload):
    async with runtime.store.write() as tx:
        return await runtime.jobs.enqueue(tx, kind, payload)


async def test_queued_jobs_run_together_up_to_the_batch_size(runtime):
    pks = [await enqueue(runtime, "sum", {"n": n}) for n in range(5)]
    batches = []

    async def run(jobs, tx):
        batches.append([job.payload["n"] for job in jobs])
        await tx.db.execute("INSERT INTO audit_log (event_id, recorded, body) VALUES ($1, $2, $3)",
                            f"batch-{len(batches)}", 0, b"{}")  # written in the jobs' own transaction
        return [{"twice": job.payload["n"] * 2} for job in jobs]

    worker = Worker(runtime.jobs, {"sum": BatchHandler(run, size=3)})
    assert await worker.run_until_idle() == 2
    assert batches == [[0, 1, 2], [3, 4]]
    for n, pk in enumerate(pks):
        status = await runtime.jobs.status(pk)
        assert status["status"] == DONE and status["result"] == {"twice": 2 * n}
    async with runtime.store.single() as db:
        assert await db.fetchval("SELECT count(*) FROM audit_log WHERE event_id LIKE 'batch-%'") == 2


async def test_a_failed_batch_runs_one_job_at_a_time_and_only_the_bad_job_fails(runtime):
    good, bad, flaky = [await enqueue(runtime, "check", {"kind": kind}) for kind in ("good", "bad", "flaky")]
    seen = []

    async def run(jobs, tx):
        seen.append(sorted(job.payload["kind"] for job in jobs))
        await tx.db.execute("INSERT INTO audit_log (event_id, recorded, body) VALUES ($1, $2, $3)",
                            f"check-{len(seen)}", 0, b"{}")
        for job in jobs:
            if job.payload["kind"] == "bad":
                raise PermanentJobError("not a lab report")
            if job.payload["kind"] == "flaky" and len(jobs) == 1:
                raise ConnectionError("lost the connection")
        return [{"ok": job.payload["kind"]} for job in jobs]

    worker = Worker(runtime.jobs, {"check": BatchHandler(run, size=8)})
    await worker.run_until_idle()
    assert seen[0] == ["bad", "flaky", "good"] and sorted(map(tuple, seen[1:])) == [("bad",), ("flaky",), ("good",)]
    assert (await runtime.jobs.status(good))["result"] == {"ok": "good"}
    assert (await runtime.jobs.status(bad))["status"] == FAILED
    assert (await runtime.jobs.status(flaky))["status"] == QUEUED  # retried later, on its own
    async with runtime.store.single() as db:  # the failed batch's write was rolled back
        assert await db.fetchval("SELECT count(*) FROM audit_log WHERE event_id = 'check-1'") == 0


async def test_claim_more_takes_only_runnable_jobs_of_the_kind(runtime):
    first = await enqueue(runtime, "a", {})
    others = [await enqueue(runtime, "a", {}) for _ in range(2)]
    await enqueue(runtime, "b", {})
    claimed = await runtime.jobs.claim("w1", ["a"])
    assert claimed.pk == first
    more = await runtime.jobs.claim_more("w1", "a", 10)
    assert [job.pk for job in more] == others and {job.kind for job in more} == {"a"}
    assert await runtime.jobs.claim_more("w2", "a", 10) == []  # leased to w1 now
    assert await runtime.jobs.claim_more("w2", "a", 0) == []
