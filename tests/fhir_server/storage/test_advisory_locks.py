"""Conditional writes' turns: advisory locks a write transaction takes as it begins, or as it goes."""

from __future__ import annotations

import pytest

from fhir_server.storage.driver import AsyncpgDriver
from fhir_server.storage.repository import advisory_lock_id, advisory_locks

pytestmark = pytest.mark.parametrize("backend", ["postgresql"])  # SQLite's writers take turns already
CRITERIA = ("Patient", (("identifier", "urn:mrn|1"),))
KEY = "Patient?identifier=urn:mrn|1"


def test_a_key_has_the_same_lock_in_every_process(backend) -> None:
    # a number fixed here: every server process of a database must take the same lock for a key
    assert advisory_lock_id(KEY) == advisory_lock_id(str(KEY)) == 8127755811229600302
    assert advisory_locks([KEY, "b", KEY, "a"]) == sorted({advisory_lock_id(k) for k in ("a", "b", KEY)})


async def held_elsewhere(runtime, key: str) -> bool:
    """Whether another transaction holds the lock of `key` (tried, without waiting, from a connection of its own)."""
    async with runtime.store.pg_pool.acquire() as other, other.transaction():
        return not await other.fetchval("SELECT pg_try_advisory_xact_lock($1)", advisory_lock_id(key))


async def test_a_transaction_holds_the_locks_it_began_with_until_it_ends(runtime) -> None:
    async with runtime.store.write(locks=[KEY, "Practitioner?identifier=urn:lab|9"]) as tx:
        assert tx.locked == {KEY, "Practitioner?identifier=urn:lab|9"}
        assert await held_elsewhere(runtime, KEY)
        assert await held_elsewhere(runtime, "Practitioner?identifier=urn:lab|9")
        assert not await held_elsewhere(runtime, "Patient?identifier=urn:mrn|2")
    assert not await held_elsewhere(runtime, KEY)


async def test_turns_taken_as_the_transaction_began_are_not_taken_again(runtime, monkeypatch) -> None:
    service = runtime.services.resources
    sent: list[str] = []
    execute = AsyncpgDriver.execute

    async def recorded(self, sql, *args):
        sent.append(sql)
        return await execute(self, sql, *args)

    monkeypatch.setattr(AsyncpgDriver, "execute", recorded)

    async def work(tx) -> None:
        await service.serialize_many_in(tx, [CRITERIA])
        await service.serialize_many_in(tx, [CRITERIA, ("Patient", (("identifier", "urn:mrn|2"),))])

    await service.run_in_transaction(work, serialized=[CRITERIA])
    locks = [sql for sql in sent if "pg_advisory_xact_lock" in sql]
    assert locks == ["SELECT pg_advisory_xact_lock($1)"]  # the second criteria's only
