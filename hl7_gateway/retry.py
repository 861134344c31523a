"""Trying again, with backoff, the messages whose filing failed for a transient reason.

A message is `failed` (answered AR) when the FHIR service or the database failed while filing it:
its transaction rolled back and nothing was filed, so trying again is safe. Content errors (AE) are
`rejected`: final, never retried. A failed message is tried again after `first_delay` seconds, then
after twice as long each time (up to `max_delay`), `max_attempts` times in all; after that it stays
`failed` for an operator (`fhir-server hl7 list --status failed`, then `hl7 replay`). A sender that
resends after the AR is served at once, whatever the schedule (see `hl7_gateway.gateway`).

A message still `received` after `first_delay` and not in this process's hands is one whose failure
could not even be recorded (the database was down): it is taken up the same way. Should another
gateway process be filing it at that moment, the inbox refuses the second filing (`AlreadySettled`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hl7_gateway.gateway import Gateway
from hl7_gateway.inbox import InboxEntry

__all__ = ["RetryPolicy", "retry_failed", "retry_forever"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 8
    first_delay: float = 10.0
    max_delay: float = 3600.0
    interval: float = 5.0
    """Seconds between two looks at the inbox."""

    def delay(self, attempts: int) -> timedelta:
        """How long to wait after the `attempts`-th failed attempt before the next one."""
        return timedelta(seconds=min(self.first_delay * 2 ** max(attempts - 1, 0), self.max_delay))

    def due(self, entry: InboxEntry, now: datetime) -> bool:
        return entry.updated_at is None or now >= entry.updated_at + self.delay(entry.attempts)


async def retry_failed(gateway: Gateway, policy: RetryPolicy, *,
                       clock: Callable[[], datetime] | None = None) -> int:
    """One pass: process again the failed messages that are due; returns how many were tried."""
    now = (clock or (lambda: datetime.now(UTC)))()
    return await gateway.recover(statuses=("received", "failed"), max_attempts=policy.max_attempts,
                                 due=lambda entry: policy.due(entry, now))


async def retry_forever(gateway: Gateway, policy: RetryPolicy) -> None:
    """Run `retry_failed` every `policy.interval` seconds until cancelled."""
    while True:
        await asyncio.sleep(policy.interval)
        try:
            tried = await retry_failed(gateway, policy)
        except Exception:  # noqa: BLE001 - e.g. the database is down: look again at the next tick
            log.warning("HL7 gateway: the retry of failed messages could not run", exc_info=True)
            continue
        if tried:
            log.info("HL7 gateway: tried %d failed message(s) again", tried)
