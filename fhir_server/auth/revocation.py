"""Revoked access tokens, checked on every request without a round trip.

Access tokens are JWTs verified locally, so revoking one means remembering its `jti` (or its grant's
`sid`) until the token would have expired anyway. Each process keeps that set in memory. The database
(`auth_revocations`) is where a revocation is recorded: every process loads the set at start and polls
for new entries every few seconds, so a revocation made anywhere (another server process, the
`fhir-server users disable` command) reaches every process. With Redis configured, revocations are also
published, and processes apply them within milliseconds instead of at the next poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any, Protocol

from fhir_server.auth.ports import UnitOfWork

__all__ = ["Revocations", "RevocationSet", "RevocationList", "jti_key", "sid_key", "REDIS_CHANNEL"]

log = logging.getLogger("fhir_server.auth")

REDIS_CHANNEL = "fhir:auth:revocations"
_INSERT = "INSERT INTO auth_revocations (key, until, created_at) VALUES ($1, $2, $3)"
_SINCE = "SELECT key, until FROM auth_revocations WHERE created_at >= $1 AND until > $2"
_PURGE = "DELETE FROM auth_revocations WHERE until < $1"


def jti_key(jti: str) -> str:
    return f"jti:{jti}"


def sid_key(sid: str) -> str:
    return f"sid:{sid}"


class Revocations(Protocol):
    def is_revoked(self, *keys: str) -> bool: ...

    async def revoke(self, key: str, *, until: int) -> None: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class RevocationSet:
    """Key -> the time (epoch seconds) after which the entry no longer matters."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}
        self._next_purge = 0.0

    def is_revoked(self, *keys: str) -> bool:
        until = self._until
        if not until:
            return False
        now = time.time()
        for key in keys:
            expiry = until.get(key)
            if expiry is not None and expiry > now:
                return True
        return False

    def add(self, key: str, until: float) -> None:
        if until > self._until.get(key, 0.0):
            self._until[key] = until
        now = time.time()
        if now >= self._next_purge:
            self._next_purge = now + 60
            self._until = {k: u for k, u in self._until.items() if u > now}


class RevocationList:
    """The in-memory set, recorded in and polled from the database, and broadcast through Redis if given."""

    def __init__(self, uow: UnitOfWork, *, redis: Any = None, poll_seconds: float = 5.0, margin: int = 30) -> None:
        self.uow = uow
        self.redis = redis
        self.poll_seconds = poll_seconds
        self.margin = margin  # re-read entries this much older than the last poll (commit order, clock skew)
        self.local = RevocationSet()
        self._tasks: list[asyncio.Task[None]] = []
        self._polled_from = 0

    def is_revoked(self, *keys: str) -> bool:
        return self.local.is_revoked(*keys)

    async def revoke(self, key: str, *, until: int) -> None:
        self.local.add(key, until)
        async with self.uow.write() as tx:
            await tx.db.execute(_INSERT, key, until, int(time.time()))
        if self.redis is not None:
            try:
                await self.redis.publish(REDIS_CHANNEL, f"{until} {key}")
            except Exception:  # the database has it; other processes see it at their next poll
                log.warning("could not publish a revocation to Redis", exc_info=True)

    async def poll(self) -> None:
        """Apply the revocations recorded since the last poll (all live ones, the first time)."""
        now = int(time.time())
        since = max(self._polled_from - self.margin, 0)
        async with self.uow.read() as tx:
            rows = await tx.db.fetch(_SINCE, since, now)
        for key, until in rows:
            self.local.add(key, float(until))
        self._polled_from = now

    async def purge(self) -> None:
        async with self.uow.write() as tx:
            await tx.db.execute(_PURGE, int(time.time()) - self.margin)

    async def _poll_forever(self) -> None:
        polls = 0
        while True:
            await asyncio.sleep(self.poll_seconds)
            try:
                await self.poll()
                polls += 1
                if polls % 720 == 0:
                    await self.purge()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("could not poll the revocation list", exc_info=True)

    async def _follow_redis(self) -> None:
        while True:
            pubsub = self.redis.pubsub()
            try:
                await pubsub.subscribe(REDIS_CHANNEL)
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    data = message["data"]
                    until, _, key = (data.decode() if isinstance(data, bytes) else str(data)).partition(" ")
                    self.local.add(key, float(until))
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis went away: the database polls still apply revocations; retry
                log.warning("lost the Redis revocation feed; reconnecting", exc_info=True)
                await asyncio.sleep(1)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def start(self) -> None:
        await self.poll()
        self._tasks.append(asyncio.create_task(self._poll_forever(), name="auth-revocations-poll"))
        if self.redis is not None:
            self._tasks.append(asyncio.create_task(self._follow_redis(), name="auth-revocations-redis"))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
