"""The job worker: claims jobs of the kinds it has handlers for and runs them, one at a time per slot.

A handler is `async (job, tx) -> result dict`, run inside a write transaction that also marks the
job done, so its effects and its completion commit together. A handler with slow work that writes
nothing (reading a document with OCR) is a `PreparingHandler`: its `prepare(job)` runs first, outside
any transaction, with the job's lease renewed meanwhile, and its `write(job, tx, prepared)` then runs
in the transaction. So no slow step holds SQLite's one writer lock or a PostgreSQL transaction open.
A handler raises `PermanentJobError` for input that will never succeed (the job fails at once with
that reason) and anything else for transient trouble (the job is retried with backoff).

A `BatchHandler` runs up to `size` jobs of its kind in one transaction (the AI pipeline's
assessments: one read of the stored assessments and one write of the new versions for all of them).

A slot waits for work until a queued job wakes it (`wakeup`) or its poll comes round.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fhir_server.background import stop
from fhir_server.jobs.queue import SECOND, Job, JobQueue
from fhir_server.storage.repository import Tx

__all__ = ["Handler", "PreparingHandler", "BatchHandler", "Worker", "PermanentJobError"]

log = logging.getLogger("fhir_server.worker")


@dataclass(frozen=True, slots=True)
class PreparingHandler:
    """A handler in two steps: `prepare` outside any transaction, `write` in the job's transaction
    with what `prepare` returned."""

    prepare: Callable[[Job], Awaitable[Any]]
    write: Callable[[Job, Tx, Any], Awaitable[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class BatchHandler:
    """A handler for jobs that cost less run together: `run(jobs, tx)` returns one result per job, in
    order, committed with the jobs' completion in one transaction. With a job of its kind claimed, the
    worker claims up to `size - 1` more queued ones to run with it. When a batch fails, each of its
    jobs runs again on its own, so a job that cannot succeed fails alone."""

    run: Callable[[list[Job], Tx], Awaitable[list[dict[str, Any]]]]
    size: int = 16


Handler = Callable[[Job, Tx], Awaitable[dict[str, Any]]] | PreparingHandler | BatchHandler


class PermanentJobError(Exception):
    """The job can never succeed as given (bad input); its reason is stored as the job's result."""


class Worker:
    def __init__(self, queue: JobQueue, handlers: Mapping[str, Handler], *, slots: int = 2,
                 poll_seconds: float = 0.5, worker_id: str | None = None) -> None:
        self.queue = queue
        self.handlers = dict(handlers)
        self.slots = slots
        self.poll_seconds = poll_seconds
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Look for work now instead of at the next poll (the queue's wake-ups do this by themselves)."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        async with self.queue.wakeups.listening(self.handlers, self._wake):
            await asyncio.gather(*(self._slot(n) for n in range(self.slots)))

    async def run_until_idle(self) -> int:
        """Run jobs until none is runnable; returns how many ran (for tests and one-shot use)."""
        ran = 0
        while await self.run_one():
            ran += 1
        return ran

    async def run_one(self) -> bool:
        """Claim a job and run it (with more of its kind, for a `BatchHandler`); False when none was runnable."""
        job = await self.queue.claim(self.worker_id, list(self.handlers))
        if job is None:
            return False
        handler = self.handlers[job.kind]
        if isinstance(handler, BatchHandler) and handler.size > 1:
            try:
                more = await self.queue.claim_more(self.worker_id, job.kind, handler.size - 1)
            except Exception:  # the database went away for a moment: run the one job claimed
                log.exception("worker could not claim more %s jobs", job.kind)
                more = []
            await self._execute_together(handler, [job, *more])
        else:
            await self._execute(job)
        return True

    async def _slot(self, number: int) -> None:
        while not self._stopping.is_set():
            # cleared before the claim, not after it: a wake-up during the claim is not lost
            self._wake.clear()
            try:
                if await self.run_one():
                    continue
            except Exception:  # the database went away for a moment: log, wait, go on
                log.exception("worker slot %d could not claim a job", number)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)

    async def _execute_together(self, handler: BatchHandler, jobs: list[Job]) -> None:
        if len(jobs) > 1:
            try:
                async with self.queue.store.write() as tx:
                    results = await handler.run(jobs, tx)
                    for job, result in zip(jobs, results, strict=True):
                        await self.queue.complete(job, self.worker_id, result, tx)
                return
            except Exception:
                log.warning("%d %s jobs failed together; running them one at a time", len(jobs), jobs[0].kind,
                            exc_info=True)
        for job in jobs:
            await self._execute(job)

    async def _execute(self, job: Job) -> None:
        handler = self.handlers[job.kind]
        try:
            if isinstance(handler, BatchHandler):
                async with self.queue.store.write() as tx:
                    (result,) = await handler.run([job], tx)
                    await self.queue.complete(job, self.worker_id, result, tx)
            elif isinstance(handler, PreparingHandler):
                async with self._lease_renewed(job):
                    prepared = await handler.prepare(job)
                async with self.queue.store.write() as tx:
                    result = await handler.write(job, tx, prepared)
                    await self.queue.complete(job, self.worker_id, result, tx)
            else:
                async with self.queue.store.write() as tx:
                    result = await handler(job, tx)
                    await self.queue.complete(job, self.worker_id, result, tx)
        except PermanentJobError as exc:
            await self.queue.fail(job, self.worker_id, str(exc), retry=False)
            log.warning("job %s (%s) failed for good: %s", job.pk, job.kind, exc)
        except Exception as exc:
            outcome = await self.queue.fail(job, self.worker_id, f"{type(exc).__name__}: {exc}")
            log.exception("job %s (%s) failed (attempt %d), now %s", job.pk, job.kind, job.attempts, outcome)

    @contextlib.asynccontextmanager
    async def _lease_renewed(self, job: Job) -> AsyncIterator[None]:
        """Renew the job's lease every third of it while the block runs, so a long `prepare` is not
        taken for a dead worker's."""
        async def renew() -> None:
            interval = self.queue.lease / SECOND / 3
            while True:
                await asyncio.sleep(interval)
                try:
                    if not await self.queue.extend(job, self.worker_id):
                        log.warning("job %s (%s): lease lost while preparing", job.pk, job.kind)
                        return
                except Exception:  # the next renewal may get through; the lease has time left
                    log.exception("job %s (%s): could not renew the lease", job.pk, job.kind)

        renewing = asyncio.create_task(renew())
        try:
            yield
        finally:
            await stop(renewing)
