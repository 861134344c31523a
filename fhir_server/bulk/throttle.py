"""Polling too fast gets 429 (Bulk Data: "the server MAY return 429 Too Many Requests").

Per process and per export: a status request within `min_interval` seconds of the previous one for
the same export is refused with `Retry-After`. Best effort: behind several processes each counts
its own polls (a shared rate limiter can replace it).
"""

from __future__ import annotations

import math
import time

from fhir_server.errors import TooManyRequests

__all__ = ["PollThrottle"]


class PollThrottle:
    def __init__(self, min_interval: float, *, retry_after: float, capacity: int = 10_000) -> None:
        self.min_interval = min_interval
        self.retry_after = retry_after
        self.capacity = capacity
        self._last: dict[str, float] = {}

    def check(self, export_id: str) -> None:
        now = time.monotonic()
        last = self._last.get(export_id)
        if last is not None and now - last < self.min_interval:
            wait = max(1, math.ceil(self.retry_after))
            raise TooManyRequests(f"polled too soon: wait {wait} s between status requests",
                                  headers={"retry-after": str(wait)})
        if len(self._last) >= self.capacity:
            for key in list(self._last)[: self.capacity // 2]:
                del self._last[key]
        self._last[export_id] = now

    def forget(self, export_id: str) -> None:
        self._last.pop(export_id, None)
