"""The job worker: claims jobs of the kinds it has handlers for and runs them, one at a time per slot.

A handler is `async (job, tx) -> result dict`, run inside a write transaction that also marks the
job done, so its effects and its completion commit together. A handler raises `PermanentJobError`
for input that will never succeed (the job fails at once with that reason) and anything else for
transient trouble (the job is retried with backoff).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fhir_server.jobs.queue import Job, JobQueue
from fhir_server.storage.repository import Tx

__all__ = ["Handler", "Worker", "PermanentJobError"]

log = logging.getLogger("fhir_server.worker")

Handler = Callable[[Job, Tx], Awaitable[dict[str, Any]]]


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
        """Look for work now instead of at the next poll (called when a job was just enqueued)."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        await asyncio.gather(*(self._slot(n) for n in range(self.slots)))

    async def run_until_idle(self) -> int:
        """Run jobs until none is runnable; returns how many ran (for tests and one-shot use)."""
        ran = 0
        while await self.run_one():
            ran += 1
        return ran

    async def run_one(self) -> bool:
        job = await self.queue.claim(self.worker_id, list(self.handlers))
        if job is None:
            return False
        await self._execute(job)
        return True

    async def _slot(self, number: int) -> None:
        while not self._stopping.is_set():
            try:
                if await self.run_one():
                    continue
            except Exception:  # the database went away for a moment: log, wait, go on
                log.exception("worker slot %d could not claim a job", number)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)

    async def _execute(self, job: Job) -> None:
        handler = self.handlers[job.kind]
        try:
            async with self.queue.store.write() as tx:
                result = await handler(job, tx)
                await self.queue.complete(job, self.worker_id, result, tx)
        except PermanentJobError as exc:
            await self.queue.fail(job, self.worker_id, str(exc), retry=False)
            log.warning("job %s (%s) failed for good: %s", job.pk, job.kind, exc)
        except Exception as exc:
            outcome = await self.queue.fail(job, self.worker_id, f"{type(exc).__name__}: {exc}")
            log.exception("job %s (%s) failed (attempt %d), now %s", job.pk, job.kind, job.attempts, outcome)
