"""The durable job queue on the `jobs` table (a transactional outbox: a job is enqueued in the same
transaction as the write that causes it, so it exists if and only if that write committed).

Workers claim jobs with a lease: PostgreSQL uses `FOR UPDATE SKIP LOCKED` so many workers never
block each other; SQLite's write transactions already run one at a time. A queued job wakes the
workers that run its kind when its transaction commits (`wakeup`), without waiting for their next
poll. A job whose worker died is claimed again once its lease runs out, so jobs survive restarts; a
failing job is retried with backoff until `max_attempts`, then left `failed` with its error for an
operator.

`coalesce` folds work into a job that has not started yet: while one waits for a key (a patient to
assess), later requests add to its payload instead of queueing another, so the queue holds at
most one waiting job per key however fast requests come. Its key (`waiting:<kind>:<key>`) is released as
the job is claimed: a request made while it runs queues the next one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from fhir_server.jobs.wakeup import Wakeups
from fhir_server.storage.driver import ConcurrentWrite
from fhir_server.storage.instants import now_micros
from fhir_server.storage.repository import ResourceStore, Tx

__all__ = ["Job", "JobQueue", "QUEUED", "RUNNING", "DONE", "FAILED"]

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
SECOND = 1_000_000

_INSERT = ("INSERT INTO jobs (kind, payload, status, attempts, run_after, dedupe_key, created_at, updated_at) "
           "VALUES ($1, $2, 'queued', 0, $3, $4, $5, $5) RETURNING pk")
WAITING = "waiting:"
# the newer payload's fields, and the list field `$6` of both, oldest first
_COALESCE_PG = (
    _INSERT.removesuffix(" RETURNING pk")
    + " ON CONFLICT (dedupe_key) DO UPDATE SET updated_at = EXCLUDED.updated_at, payload = jsonb_set("
    "jobs.payload::jsonb || EXCLUDED.payload::jsonb, ARRAY[$6::text], "
    "COALESCE(jobs.payload::jsonb -> $6::text, '[]'::jsonb) || COALESCE(EXCLUDED.payload::jsonb -> $6::text, '[]'::jsonb)"
    ")::text RETURNING pk, xmax = 0 AS inserted"
)
_WAITING_SQLITE = "SELECT pk, payload FROM jobs WHERE dedupe_key = $1"
_MERGE_SQLITE = "UPDATE jobs SET payload = $1, updated_at = $2 WHERE pk = $3"
_RELEASE_WAITING = f"dedupe_key = CASE WHEN dedupe_key LIKE '{WAITING}%' THEN NULL ELSE dedupe_key END"
_CLAIMABLE = ("(status = 'queued' AND run_after <= $3) OR (status = 'running' AND locked_until < $3)")
# leased to worker $1 until $2, at $3
_LEASE = ("UPDATE jobs SET status = 'running', locked_by = $1, locked_until = $2, attempts = attempts + 1, "
          f"updated_at = $3, {_RELEASE_WAITING} ")
_CLAIM_PG = (
    f"{_LEASE}WHERE pk = (SELECT pk FROM jobs WHERE ({_CLAIMABLE}) AND kind = ANY($4::varchar[]) "
    "ORDER BY run_after, pk LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING pk, kind, payload, attempts"
)
# more runnable jobs of one kind, for a worker that runs them together
_CLAIM_MORE_PG = (
    f"{_LEASE}WHERE pk IN (SELECT pk FROM jobs WHERE ({_CLAIMABLE}) AND kind = $4 "
    "ORDER BY run_after, pk LIMIT $5 FOR UPDATE SKIP LOCKED) RETURNING pk, kind, payload, attempts"
)
_CLAIM_MORE_SQLITE = _CLAIM_MORE_PG.replace(" FOR UPDATE SKIP LOCKED", "")
_FINISH = ("UPDATE jobs SET status = $1, result = $2, locked_by = NULL, locked_until = NULL, updated_at = $3 "
           "WHERE pk = $4 AND locked_by = $5")
_RETRY = ("UPDATE jobs SET status = 'queued', result = $1, run_after = $2, locked_by = NULL, locked_until = NULL, "
          "updated_at = $3 WHERE pk = $4 AND locked_by = $5")
_EXTEND = "UPDATE jobs SET locked_until = $1 WHERE pk = $2 AND locked_by = $3 AND status = 'running' RETURNING pk"


def _claim_sqlite(kinds: int) -> str:
    placeholders = ", ".join(f"${n}" for n in range(4, 4 + kinds))
    return (
        f"{_LEASE}WHERE pk = (SELECT pk FROM jobs WHERE ({_CLAIMABLE}) "
        f"AND kind IN ({placeholders}) "
        "ORDER BY run_after, pk LIMIT 1) RETURNING pk, kind, payload, attempts"
    )


@dataclass(frozen=True, slots=True)
class Job:
    pk: int
    kind: str
    payload: dict[str, Any]
    attempts: int


class JobQueue:
    def __init__(self, store: ResourceStore, *, lease_seconds: float = 60, max_attempts: int = 5) -> None:
        self.store = store
        self.lease = int(lease_seconds * SECOND)
        self.max_attempts = max_attempts
        self.wakeups = Wakeups(store)

    async def enqueue(self, tx: Tx, kind: str, payload: dict[str, Any], *, dedupe_key: str | None = None,
                      delay_seconds: float = 0) -> int | None:
        """Add a job inside the caller's transaction. With `dedupe_key`, a second enqueue of the same
        key while the first still exists is a no-op (returns None)."""
        now = now_micros()
        if dedupe_key is not None:
            existing = await tx.db.fetchval("SELECT pk FROM jobs WHERE dedupe_key = $1", dedupe_key)
            if existing is not None:
                return None
        pk = await tx.db.fetchval(_INSERT, kind, orjson.dumps(payload).decode(), now + int(delay_seconds * SECOND),
                                  dedupe_key, now)
        if delay_seconds <= 0:
            self.wakeups.signal_on_commit(tx, kind)
        return pk

    async def coalesce(self, tx: Tx, kind: str, key: str, payload: dict[str, Any], *, extend: str) -> int:
        """Queue a job inside the caller's transaction, or fold `payload` into the job of `kind` still
        waiting for `key`: its fields replace the waiting job's, except the list `payload[extend]`,
        which is added to the waiting job's. Returns the job's pk."""
        now = now_micros()
        dedupe_key = f"{WAITING}{kind}:{key}"
        if self.store.is_sqlite:  # its writers take turns: nothing can come between the read and the write
            row = await tx.db.fetchrow(_WAITING_SQLITE, dedupe_key)
            if row is not None:
                waiting = orjson.loads(row[1])
                merged = {**waiting, **payload, extend: [*waiting.get(extend, []), *payload.get(extend, [])]}
                await tx.db.execute(_MERGE_SQLITE, orjson.dumps(merged).decode(), now, row[0])
                return int(row[0])
            pk = await tx.db.fetchval(_INSERT, kind, orjson.dumps(payload).decode(), now, dedupe_key, now)
        else:
            pk, inserted = await tx.db.fetchrow(_COALESCE_PG, kind, orjson.dumps(payload).decode(), now, dedupe_key,
                                                now, extend)
            if not inserted:
                return int(pk)
        self.wakeups.signal_on_commit(tx, kind)
        return int(pk)

    async def claim(self, worker_id: str, kinds: list[str]) -> Job | None:
        """Take the next runnable job of one of `kinds`, leased to `worker_id`; None when there is none."""
        if not kinds:
            return None
        now = now_micros()
        try:
            async with self.store.write() as tx:
                if self.store.is_sqlite:
                    row = await tx.db.fetchrow(_claim_sqlite(len(kinds)), worker_id, now + self.lease, now, *kinds)
                else:
                    row = await tx.db.fetchrow(_CLAIM_PG, worker_id, now + self.lease, now, kinds)
        except ConcurrentWrite:
            return None
        if row is None:
            return None
        pk, kind, payload, attempts = row
        return Job(pk, kind, orjson.loads(payload), attempts)

    async def claim_more(self, worker_id: str, kind: str, limit: int) -> list[Job]:
        """Take up to `limit` more runnable jobs of `kind`, leased to `worker_id`, to run with one
        already claimed (a worker that runs a kind's jobs together in one transaction)."""
        if limit <= 0:
            return []
        now = now_micros()
        try:
            async with self.store.write() as tx:
                rows = await tx.db.fetch(_CLAIM_MORE_SQLITE if self.store.is_sqlite else _CLAIM_MORE_PG,
                                         worker_id, now + self.lease, now, kind, limit)
        except ConcurrentWrite:
            return []
        return sorted((Job(pk, kind, orjson.loads(payload), attempts) for pk, kind, payload, attempts in rows),
                      key=lambda job: job.pk)

    async def extend(self, job: Job, worker_id: str) -> bool:
        """Renew the job's lease; False when `worker_id` no longer holds it."""
        async with self.store.write() as tx:
            return await tx.db.fetchval(_EXTEND, now_micros() + self.lease, job.pk, worker_id) is not None

    async def complete(self, job: Job, worker_id: str, result: dict[str, Any], tx: Tx | None = None) -> None:
        """Mark the job done; pass the handler's `tx` so its writes and the completion commit together."""
        if tx is None:
            async with self.store.write() as own:
                await self.complete(job, worker_id, result, own)
            return
        await tx.db.execute(_FINISH, DONE, orjson.dumps(result).decode(), now_micros(), job.pk, worker_id)

    async def fail(self, job: Job, worker_id: str, error: str, *, retry: bool = True) -> str:
        """Record a failure: back to the queue with exponential backoff, or `failed` for good."""
        now = now_micros()
        result = orjson.dumps({"error": error, "attempts": job.attempts}).decode()
        async with self.store.write() as tx:
            if retry and job.attempts < self.max_attempts:
                backoff = min(2 ** job.attempts, 300) * SECOND
                await tx.db.execute(_RETRY, result, now + backoff, now, job.pk, worker_id)
                return QUEUED
            await tx.db.execute(_FINISH, FAILED, result, now, job.pk, worker_id)
            return FAILED

    async def status(self, pk: int) -> dict[str, Any] | None:
        async with self.store.single() as db:
            row = await db.fetchrow("SELECT kind, status, attempts, result, created_at, updated_at FROM jobs "
                                    "WHERE pk = $1", pk)
        if row is None:
            return None
        kind, status, attempts, result, created_at, updated_at = row
        return {"pk": pk, "kind": kind, "status": status, "attempts": attempts,
                "result": orjson.loads(result) if result else None, "created_at": created_at,
                "updated_at": updated_at}
