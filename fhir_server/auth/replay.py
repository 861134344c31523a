"""One use per client-assertion `jti`: the SMART Backend Services replay rule.

A `jti` is remembered until its assertion expires; after that the assertion is refused for its
`exp` anyway. Redis (SET NX with an expiry) makes this hold across processes; without it, each
process remembers its own.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

__all__ = ["ReplayGuard", "InProcessReplayGuard", "RedisReplayGuard"]


class ReplayGuard(Protocol):
    async def first_use(self, key: str, *, until: int) -> bool:
        """True the first time `key` is seen before `until` (epoch seconds); False on a replay."""


class InProcessReplayGuard:
    def __init__(self) -> None:
        self._seen: dict[str, float] = {}
        self._next_purge = 0.0

    async def first_use(self, key: str, *, until: int) -> bool:
        now = time.time()
        if now >= self._next_purge:
            self._next_purge = now + 60
            self._seen = {k: u for k, u in self._seen.items() if u > now}
        expiry = self._seen.get(key)
        if expiry is not None and expiry > now:
            return False
        self._seen[key] = max(float(until), now + 1)
        return True


class RedisReplayGuard:
    PREFIX = "fhir:auth:jti:"

    def __init__(self, redis: Any) -> None:
        self.redis = redis

    async def first_use(self, key: str, *, until: int) -> bool:
        seconds = max(int(until - time.time()) + 1, 1)
        return bool(await self.redis.set(self.PREFIX + key, b"1", nx=True, ex=seconds))
