"""Group commit: the filings of messages that arrive together share one database transaction.

Labs send over several connections at once. Each message's filing is a unit of work that the
gateway would otherwise commit on its own; here the units waiting at the same moment are run one
after the other inside one transaction, which pays for one BEGIN, one COMMIT (one WAL flush) and one
round trip for all their conditional-write locks (taken with the BEGIN) instead of one of each per message. Each unit still
gets its own result: a unit that fails makes the group's transaction roll back, and then every
unit of the group is run again alone, in its own transaction, so a bad message gets its own error
and cannot keep the others from being filed.

At most `max_concurrent` groups are under way at once; a unit that arrives meanwhile waits, and the
next group takes every unit waiting then (up to `max_group`), oldest first. A unit is run by the
caller that becomes a group's leader, not by a task of its own, so nothing outlives the callers:
should a leader be cancelled, the units of its group that are not finished are taken by the next.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from fhir_server.storage.repository import Tx

__all__ = ["Unit", "GroupCommit"]

T = TypeVar("T")
# `run_in_transaction(work, serialized=...)`, as `ResourceService.run_in_transaction`
RunInTransaction = Callable[..., Awaitable[Any]]


class Unit(Protocol[T]):
    async def __call__(self, tx: Tx) -> T:
        """Do the unit's work inside `tx` (and nothing that must not be undone if `tx` rolls back)."""
        ...

    def rolled_back(self) -> None:
        """Forget what a run that rolled back left behind, before the unit is run again alone."""
        ...


@dataclass(eq=False)
class _Waiting(Generic[T]):
    unit: Unit[T]
    done: asyncio.Future[T] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    taken: bool = False
    """In a group under way (whose leader sets `done`)."""


class GroupCommit:
    """`await group(unit)`: `unit(tx)`'s result once its transaction has committed, or what it raised.

    `serialized(units)`: the criteria of the units' conditional writes, whose turns the transaction
    takes as it begins (`run_in_transaction(work, serialized=...)`), for a unit alone as for a group."""

    def __init__(self, run_in_transaction: RunInTransaction, *, max_group: int = 16, max_concurrent: int = 1,
                 serialized: Callable[[Sequence[Any]], Sequence[Any]] | None = None) -> None:
        if max_group < 1 or max_concurrent < 1:
            raise ValueError("a group holds at least one unit, and at least one group must be able to run")
        self.run_in_transaction = run_in_transaction
        self.max_group = max_group
        self.max_concurrent = max_concurrent
        self.serialized = serialized
        self._waiting: list[_Waiting[Any]] = []
        self._running = 0
        self._changed = asyncio.Condition()

    async def __call__(self, unit: Unit[T]) -> T:
        waiting: _Waiting[T] = _Waiting(unit)
        self._waiting.append(waiting)
        try:
            while not waiting.done.done():
                async with self._changed:
                    await self._changed.wait_for(lambda: waiting.done.done() or (
                        not waiting.taken and self._running < self.max_concurrent))
                    if waiting.done.done():
                        break
                    self._running += 1
                try:
                    await self._lead(waiting)
                finally:
                    async with self._changed:
                        self._running -= 1
                        self._changed.notify_all()
            return waiting.done.result()
        finally:
            self._waiting.remove(waiting)
            if not waiting.done.done():  # cancelled while a group runs it: nobody will read its outcome
                waiting.done.add_done_callback(_outcome_unread)

    async def _lead(self, own: _Waiting[Any]) -> None:
        """File the oldest units nobody has taken yet (the leader's own among them) as one group."""
        others = [w for w in self._waiting if w is not own and not w.taken and not w.done.done()]
        group = [own, *others[:self.max_group - 1]]
        for waiting in group:
            waiting.taken = True
        try:
            if len(group) == 1:
                await self._alone(own)
            else:
                await self._together(group)
        finally:
            for waiting in group:
                waiting.taken = False

    async def _together(self, group: list[_Waiting[Any]]) -> None:
        async def work(tx: Tx) -> list[Any]:
            return [await waiting.unit(tx) for waiting in group]

        try:
            results = await self._run(work, [waiting.unit for waiting in group])
        except Exception:  # noqa: BLE001 - some unit failed: each gets its own transaction and outcome
            for waiting in group:
                waiting.unit.rolled_back()
                await self._alone(waiting)
            return
        for waiting, result in zip(group, results, strict=True):
            waiting.done.set_result(result)

    async def _alone(self, waiting: _Waiting[Any]) -> None:
        try:
            result = await self._run(waiting.unit, [waiting.unit])
        except Exception as exc:  # noqa: BLE001 - the unit's own failure is its caller's to handle
            waiting.done.set_exception(exc)
        else:
            waiting.done.set_result(result)

    async def _run(self, work: Callable[[Tx], Awaitable[T]], units: Sequence[Any]) -> T:
        if self.serialized is None:
            return await self.run_in_transaction(work)
        return await self.run_in_transaction(work, serialized=self.serialized(units))


def _outcome_unread(done: asyncio.Future[Any]) -> None:
    if not done.cancelled():
        done.exception()  # marks it retrieved: the caller that wanted it is gone
