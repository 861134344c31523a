"""A running worker is woken when a job's transaction commits, not at its next poll; polling stays
the fallback when the wake-up is lost."""

from __future__ import annotations

import asyncio
import time

import pytest

from fhir_server.bootstrap import start_runtime
from fhir_server.jobs import DONE, Worker

POLL = 30.0  # so long that only a wake-up can explain a job run within seconds


async def enqueue(runtime, kind, payload, **kwargs):
    async with runtime.store.write() as tx:
        return await runtime.jobs.enqueue(tx, kind, payload, **kwargs)


class Recorder:
    def __init__(self):
        self.ran = asyncio.Queue()

    async def __call__(self, job, tx):
        await self.ran.put((job.payload, time.perf_counter()))
        return {}


async def listening(runtime):
    """Until the worker's wake-ups are in place (PostgreSQL: its LISTEN connection is open)."""
    if runtime.jobs.wakeups.in_database:
        await asyncio.wait_for(runtime.jobs.wakeups.connected.wait(), 10)
    else:
        await asyncio.sleep(0.05)


async def test_a_waiting_worker_runs_a_job_as_soon_as_its_transaction_commits(runtime):
    recorder = Recorder()
    worker = Worker(runtime.jobs, {"ping": recorder}, poll_seconds=POLL)
    running = asyncio.create_task(worker.run())
    try:
        await listening(runtime)
        await asyncio.sleep(0.2)  # both slots have polled and are waiting
        for n in range(3):
            await enqueue(runtime, "ping", {"n": n})
            committed = time.perf_counter()
            payload, ran_at = await asyncio.wait_for(recorder.ran.get(), 10)
            assert payload == {"n": n}
            assert ran_at - committed < 5
    finally:
        worker.stop()
        await running


async def test_other_kinds_and_rolled_back_jobs_wake_nothing_that_runs(runtime):
    recorder = Recorder()
    worker = Worker(runtime.jobs, {"ping": recorder}, poll_seconds=POLL)
    running = asyncio.create_task(worker.run())
    try:
        await listening(runtime)
        await enqueue(runtime, "not-mine", {})
        with pytest.raises(RuntimeError):
            async with runtime.store.write() as tx:
                await runtime.jobs.enqueue(tx, "ping", {"n": "rolled back"})
                raise RuntimeError("the write failed")
        await enqueue(runtime, "ping", {"n": "committed"})
        payload, _ = await asyncio.wait_for(recorder.ran.get(), 10)
        assert payload == {"n": "committed"}
        await asyncio.sleep(0.3)
        assert recorder.ran.empty()
    finally:
        worker.stop()
        await running


@pytest.mark.parametrize("backend", ["postgresql"])  # on SQLite a worker in another process polls
async def test_a_job_queued_by_another_process_wakes_the_worker(runtime, settings):
    recorder = Recorder()
    worker = Worker(runtime.jobs, {"ping": recorder}, poll_seconds=POLL)
    running = asyncio.create_task(worker.run())
    other = await start_runtime(settings)  # its own pool and queue, as another process has
    try:
        await listening(runtime)
        await enqueue(other, "ping", {"from": "elsewhere"})
        committed = time.perf_counter()
        payload, ran_at = await asyncio.wait_for(recorder.ran.get(), 10)
        assert payload == {"from": "elsewhere"} and ran_at - committed < 5
    finally:
        worker.stop()
        await running
        await other.close()


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_a_lost_listen_connection_is_polled_over_then_opened_again(runtime):
    recorder = Recorder()
    worker = Worker(runtime.jobs, {"ping": recorder}, poll_seconds=0.2)
    running = asyncio.create_task(worker.run())
    try:
        await listening(runtime)
        async with runtime.store.single() as db:
            await db.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE datname = current_database() AND query LIKE 'LISTEN%'")
        pk = await enqueue(runtime, "ping", {"n": 1})
        await asyncio.wait_for(recorder.ran.get(), 10)  # by a poll, or by the new connection
        await asyncio.wait_for(runtime.jobs.wakeups.connected.wait(), 10)
        assert await listen_connections(runtime) == 1
    finally:
        worker.stop()
        await running
    assert (await runtime.jobs.status(pk))["status"] == DONE
    assert await listen_connections(runtime) == 0  # UNLISTENed before going back to the pool


async def listen_connections(runtime):
    async with runtime.store.single() as db:
        return await db.fetchval("SELECT count(*) FROM pg_stat_activity "
                                 "WHERE datname = current_database() AND query LIKE 'LISTEN%'")


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_work_folded_into_a_waiting_job_notifies_nobody(runtime):
    """Only a job that is new wakes the workers: a notification is a transaction of PostgreSQL's own
    (with a commit to flush), which a feed that folds every result into a waiting job must not pay."""
    heard: list[str] = []

    def on_notify(_connection, _pid, _channel, payload):
        heard.append(payload)

    async def coalesce(source: str) -> None:
        async with runtime.store.write() as tx:
            await runtime.jobs.coalesce(tx, "assess", "p1", {"sources": [source]}, extend="sources")

    async with runtime.store.pg_pool.acquire() as listener:
        await listener.add_listener("fhir_jobs", on_notify)
        try:
            await coalesce("Observation/1")
            await coalesce("Observation/2")
            await coalesce("Observation/3")
            await asyncio.sleep(0.3)
        finally:
            await listener.remove_listener("fhir_jobs", on_notify)
    assert heard == ["assess"]
