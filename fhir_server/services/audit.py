"""The audit trail: every access leaves an AuditEvent, durable before the data it concerns is served.

    await trail.record_in(tx, events)     # a write's events, in the write's own transaction
    await trail.record(events)            # a read's: returns once they are committed
    runtime.job_handlers[AUDIT_MATERIALIZE] = trail.materialize

Recording is an append to the `audit_log` table (`fhir_server.storage.audit_log`), a fraction of
what validating, indexing and versioning a resource costs. `record` commits in groups: a
background flusher appends the events of every caller waiting at that moment (and of those that
arrive within `linger_seconds`) as one row in one short transaction and then releases them all, so
a thousand concurrent reads cost a handful of commits and rows. On PostgreSQL a group is one
statement in autocommit on a connection of `commit_pool`, whose sessions commit without waiting for
the WAL flush: one round trip per group.

The `audit.materialize` job then turns the log into `AuditEvent` resources with id = event id,
`batch_size` at a time, through the service layer's write path (validated, indexed, sealed), and
deletes the rows it wrote in the same transaction, so each event becomes one resource exactly once.
The job keeps itself queued (again after `interval_seconds`, at once while a backlog remains), which
also picks up the events of writes, whose transactions commit whenever their writer does. `start`
queues it, and the flushers queue it again (at most once an interval) should the chain have broken;
its dedupe key keeps it to one waiting job.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Sequence
from typing import Any

from fhir_server.auth.audit import storable, stored_event
from fhir_server.context import Principal, RequestContext
from fhir_server.jobs import Job, JobQueue
from fhir_server.services.access import AUDIT_WRITER, AuditRecord
from fhir_server.services.resources import ResourceService
from fhir_server.services.write_ops import Create, Prepared
from fhir_server.storage.audit_log import AuditLogStore, LoggedEvent
from fhir_server.storage.driver import AsyncpgDriver, ConcurrentWrite
from fhir_server.storage.repository import ResourceStore, Tx
from resources import validate

__all__ = ["AuditTrail", "AUDIT_MATERIALIZE", "AUDIT_PRINCIPAL"]

log = logging.getLogger("fhir_server.audit")

AUDIT_MATERIALIZE = "audit.materialize"
# the server's own audit writer: may create AuditEvents and nothing else; its writes are not audited again
AUDIT_PRINCIPAL = Principal(subject=AUDIT_WRITER, role="system", scopes=frozenset({"system/AuditEvent.c"}))
_AUDIT_EVENT = "AuditEvent"
_RELEASE_KEY = "UPDATE jobs SET dedupe_key = NULL WHERE pk = $1"
_FORGET_JOB = "DELETE FROM jobs WHERE pk = $1"



class _Commit(asyncio.Future[None]):
    """The future a group's callers all wait on. Cancelling one caller must not cancel the others'
    wait, so it cannot be cancelled: a cancelled caller gets its CancelledError once the group is
    committed (its events are written all the same). Cheaper than a shield per caller."""

    def cancel(self, msg: Any = None) -> bool:
        return False


class _Group:
    """The events of the callers that share one commit, and the future they all wait on."""

    __slots__ = ("items", "done")

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.done = _Commit(loop=asyncio.get_running_loop())


class AuditTrail:
    def __init__(self, *, store: ResourceStore, resources: ResourceService, jobs: JobQueue, batch_size: int = 500,
                 max_group: int = 2000, max_waiting: int = 10_000, flushers: int = 1,
                 interval_seconds: float = 2.0, commit_pool: Any = None, linger_seconds: float = 0.001) -> None:
        self.store = store
        # PostgreSQL: an asyncpg pool with `synchronous_commit=off` for the group commits (see `_append`)
        self.commit_pool = commit_pool
        self.log = AuditLogStore(store)
        self.resources = resources
        self.jobs = jobs
        self.batch_size = batch_size
        self.max_group = max_group
        self.max_waiting = max_waiting
        # one flusher: callers arriving while a group commits wait for the next, larger, group
        self.flushers = flushers
        self.interval_seconds = interval_seconds
        self.linger_seconds = linger_seconds
        self._ctx = RequestContext(principal=AUDIT_PRINCIPAL, base_url="")
        self._open: _Group | None = None  # the group callers join now
        self._full: collections.deque[_Group] = collections.deque()  # groups of max_group, not yet taken
        self._waiting = 0  # events in groups not yet committed
        self._wake: asyncio.Event | None = None
        self._closing = False
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[None]] = set()
        self._requested_at = float("-inf")
        # for the benchmark and tests: flush transactions committed, events they carried
        self.flushes = 0
        self.flushed = 0

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the flushers and make sure a materialize job is queued."""
        if self._tasks:
            return
        self._wake, self._closing = asyncio.Event(), False
        self._tasks = [asyncio.create_task(self._flush_forever(self._wake), name=f"audit-flusher-{n}")
                       for n in range(self.flushers)]
        if await self.log.has_pending():  # events left by an earlier run; new ones queue the job as they flush
            await self.request_materialize()

    async def close(self) -> None:
        """Commit what is waiting, then stop the flushers."""
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        tasks, wake = self._tasks, self._wake
        if not tasks or wake is None:
            return
        self._tasks, self._closing = [], True
        wake.set()
        await asyncio.gather(*tasks)
        # callers that got past the running check just as it closed
        while (group := self._take()) is not None:
            await self._flush(group)

    # -- recording -----------------------------------------------------------------------------

    async def record_in(self, tx: Tx, events: Sequence[AuditRecord]) -> None:
        """Append `events` in the caller's transaction: they commit, or roll back, with it (sent with
        its next statement that carries deferred writes, or before its commit)."""
        await self.log.append(tx, [storable(event) for event in events], later=True)

    async def record(self, events: Sequence[AuditRecord]) -> None:
        """Append `events` in the next group commit; returns once they are durable. Raises what the
        group's transaction raised if it failed (then nothing of the group was written)."""
        if not events:
            return
        if not self._tasks or self._wake is None or self._closing or any(task.done() for task in self._tasks):
            raise RuntimeError("the audit trail is not running (AuditTrail.start() was not awaited, or it closed)")
        while self._waiting >= self.max_waiting and self._full:
            await self._full[0].done  # the flushers are behind: wait for a commit first
        group = self._open
        if group is None or len(group.items) >= self.max_group:
            if group is not None:
                self._full.append(group)
            group = self._open = _Group()
        group.items.extend(storable(event) for event in events)
        self._waiting += len(events)
        self._wake.set()
        await group.done

    def record_soon(self, events: Sequence[AuditRecord]) -> None:
        """Record `events` in the background, without waiting: for callers inside a transaction of
        their own (a job), which on SQLite must end before any other write can commit."""
        task = asyncio.get_running_loop().create_task(self.record(events))
        self._background.add(task)
        task.add_done_callback(self._recorded)

    def _recorded(self, task: asyncio.Task[None]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("AuditEvents recorded in the background were lost: %s", task.exception())

    def _take(self) -> _Group | None:
        if self._full:
            return self._full.popleft()
        group, self._open = self._open, None
        return group

    async def _flush_forever(self, wake: asyncio.Event) -> None:
        while True:
            await wake.wait()
            if not self._full and self._open is not None and not self._closing and self.linger_seconds:
                await asyncio.sleep(self.linger_seconds)  # let the callers arriving now join this commit
            group = self._take()
            if group is None:
                wake.clear()
                if self._closing:
                    return
                continue
            await self._flush(group)
            await self._request_now_and_then()

    async def _append(self, events: list[Any]) -> None:
        if self.commit_pool is None:
            async with self.store.write() as tx:
                await self.log.append(tx, events)
            return
        # one INSERT is its own transaction: committed (visible, surviving a crash of this
        # process) without waiting for the WAL flush to disk, which on a busy disk costs more than the
        # read being audited; only a crash of PostgreSQL itself within its WAL writer delay
        # (wal_writer_delay, 200 ms by default) could lose a read's events
        async with self.commit_pool.acquire() as raw:
            await self.log.append(Tx(AsyncpgDriver(raw), self.store.engine.dialect), events)

    async def _flush(self, group: _Group) -> None:
        try:
            await self._append(group.items)
        except BaseException as exc:
            group.done.set_exception(exc)
            group.done.exception()  # retrieved: callers that were cancelled meanwhile do not read it
            if not isinstance(exc, Exception):
                raise
            log.error("audit events could not be committed (a group of %d refused): %s", len(group.items), exc)
            return
        finally:
            self._waiting -= len(group.items)
        self.flushes += 1
        self.flushed += len(group.items)
        group.done.set_result(None)

    # -- materialization -----------------------------------------------------------------------

    async def request_materialize(self) -> None:
        """Queue a materialize job unless one is waiting already."""
        self._requested_at = time.monotonic()
        try:
            async with self.store.write() as tx:
                await self.jobs.enqueue(tx, AUDIT_MATERIALIZE, {}, dedupe_key=AUDIT_MATERIALIZE)
        except ConcurrentWrite:
            pass  # another process queued it at the same moment

    async def _request_now_and_then(self) -> None:
        # the materialize job requeues itself, so this only starts it again if it stopped (it failed
        # for good, or no process started it): once an interval is plenty, off every reader's path
        if time.monotonic() - self._requested_at < self.interval_seconds:
            return
        try:
            await self.request_materialize()
        except Exception as exc:
            log.warning("could not queue the audit materialize job: %s", exc)

    async def materialize(self, job: Job, tx: Tx) -> dict[str, Any]:
        """The `audit.materialize` job handler (one batch); it queues its successor in `tx`."""
        if not self.store.is_sqlite:
            # free the dedupe key at once: events committed from now on, which this run may not see,
            # then queue a run of their own. SQLite's writers take turns, so none commits meanwhile.
            async with self.store.write() as own:
                await own.db.execute(_RELEASE_KEY, job.pk)
        written = await self.materialize_in(tx)
        await tx.db.execute(_FORGET_JOB, job.pk)
        delay = 0 if written >= self.batch_size else self.interval_seconds
        await self.jobs.enqueue(tx, AUDIT_MATERIALIZE, {}, dedupe_key=AUDIT_MATERIALIZE, delay_seconds=delay)
        return {"materialized": written}

    async def materialize_in(self, tx: Tx) -> int:
        """Turn the oldest logged events (whole rows, `batch_size` or a little more) into AuditEvent
        resources and remove them from the log, in `tx`; returns how many."""
        taken = await self.log.take(tx, self.batch_size)
        if not taken:
            return 0
        await self.resources.write_many_in(tx, self._ctx, [Create(self._prepared(event), event.event_id)
                                                           for event in taken])
        await self.log.remove(tx, taken)
        return len(taken)

    async def catch_up(self) -> int:
        """Materialize everything committed so far, a batch per transaction; returns how many."""
        total = 0
        while True:
            async with self.store.write() as tx:
                written = await self.materialize_in(tx)
            total += written
            if written < self.batch_size:
                return total

    @staticmethod
    def _prepared(event: LoggedEvent) -> Prepared:
        """The event checked against R4 (the R4 validator alone: the R4B models' second opinion would
        triple the cost of a server-built resource); one that fails is logged and kept all the same,
        since an audit record must not be lost to a bug in its builder."""
        resource = stored_event(event.resource)
        errors = [issue for issue in validate(resource, with_models=False) if issue.severity == "error"]
        if errors:
            log.error("AuditEvent/%s is not valid R4 and is stored as recorded: %s", event.event_id,
                      "; ".join(f"{issue.expression}: {issue.diagnostics}" for issue in errors))
        return Prepared(_AUDIT_EVENT, resource)
