"""Group commit (`hl7_gateway.group_commit`): units waiting together share one transaction, each gets its
own result, and a failing unit is run again alone so it cannot fail the others. No database here:
the transaction is a stand-in that records what ran in it and undoes nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hl7_gateway.group_commit import GroupCommit


class Transactions:
    """`run_in_transaction` stand-in: each call is one transaction; the first waits for `gate`."""

    def __init__(self) -> None:
        self.runs: list[list[str]] = []
        self.gate = asyncio.Event()
        self.serialized: list[Any] = []  # what each transaction was asked to take the turns of as it began

    async def __call__(self, work: Any, **options: Any) -> Any:
        self.serialized.append(options.get("serialized"))
        if not self.runs:
            self.runs.append([])
            await self.gate.wait()
            tx: list[str] = self.runs[-1]
        else:
            tx = []
            self.runs.append(tx)
        return await work(tx)


class Unit:
    def __init__(self, name: str, *, fails: bool = False) -> None:
        self.name = name
        self.fails = fails
        self.rollbacks = 0

    async def __call__(self, tx: list[str]) -> str:
        tx.append(self.name)
        if self.fails:
            raise ValueError(f"{self.name} is bad")
        return f"{self.name} filed"

    def rolled_back(self) -> None:
        self.rollbacks += 1


async def until(condition: Any) -> None:
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("never happened")


async def test_units_waiting_together_share_one_transaction_and_each_gets_its_result():
    transactions = Transactions()
    group = GroupCommit(transactions, max_group=16)
    first = asyncio.create_task(group(Unit("a")))
    await until(lambda: transactions.runs)  # "a" holds the only turn; the others queue behind it
    rest = [asyncio.create_task(group(Unit(name))) for name in "bcd"]
    await until(lambda: len(group._waiting) == 4)
    transactions.gate.set()
    assert await first == "a filed"
    assert [await task for task in rest] == ["b filed", "c filed", "d filed"]
    assert transactions.runs == [["a"], ["b", "c", "d"]]


async def test_a_failing_unit_fails_alone_and_the_others_are_filed():
    transactions = Transactions()
    group = GroupCommit(transactions, max_group=16)
    first = asyncio.create_task(group(Unit("a")))
    await until(lambda: transactions.runs)
    units = [Unit("b"), Unit("bad", fails=True), Unit("c")]
    rest = [asyncio.create_task(group(unit)) for unit in units]
    await until(lambda: len(group._waiting) == 4)
    transactions.gate.set()
    assert await first == "a filed"
    assert await rest[0] == "b filed" and await rest[2] == "c filed"
    with pytest.raises(ValueError, match="bad is bad"):
        await rest[1]
    # the group's transaction failed, then each of its units ran in a transaction of its own
    assert transactions.runs == [["a"], ["b", "bad"], ["b"], ["bad"], ["c"]]
    assert [unit.rollbacks for unit in units] == [1, 1, 1]


async def test_groups_take_at_most_max_group_units_oldest_first():
    transactions = Transactions()
    group = GroupCommit(transactions, max_group=2)
    first = asyncio.create_task(group(Unit("a")))
    await until(lambda: transactions.runs)
    rest = [asyncio.create_task(group(Unit(name))) for name in "bcde"]
    await until(lambda: len(group._waiting) == 5)
    transactions.gate.set()
    await asyncio.gather(first, *rest)
    assert transactions.runs == [["a"], ["b", "c"], ["d", "e"]]


async def test_a_cancelled_leader_leaves_its_group_to_the_next():
    transactions = Transactions()
    group = GroupCommit(transactions, max_group=16)
    first = asyncio.create_task(group(Unit("a")))
    await until(lambda: transactions.runs)
    second = asyncio.create_task(group(Unit("b")))
    await until(lambda: len(group._waiting) == 2)
    first.cancel()  # e.g. its connection closed while its transaction was open
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await second == "b filed"
    assert transactions.runs[-1] == ["b"]


async def test_each_transaction_begins_with_the_turns_of_its_units():
    transactions = Transactions()
    transactions.gate.set()

    def serialized(units: list[Unit]) -> list[str]:
        return [f"{unit.name}?identifier=x" for unit in units]

    group = GroupCommit(transactions, serialized=serialized)
    hold = asyncio.Event()

    class Slow(Unit):
        async def __call__(self, tx: list[str]) -> str:
            await hold.wait()
            return await super().__call__(tx)

    first = asyncio.create_task(group(Slow("a")))
    await until(lambda: transactions.runs)
    rest = [asyncio.create_task(group(Unit(name))) for name in "bc"]
    await until(lambda: len(group._waiting) == 3)
    hold.set()
    await asyncio.gather(first, *rest)
    assert transactions.serialized == [["a?identifier=x"], ["b?identifier=x", "c?identifier=x"]]
    assert transactions.runs == [["a"], ["b", "c"]]


async def test_with_two_groups_at_once_every_unit_runs_once():
    ran: list[str] = []

    async def transaction(work: Any) -> Any:
        tx: list[str] = []
        await asyncio.sleep(0.01)  # the other group gathers and starts meanwhile
        result = await work(tx)
        ran.extend(tx)
        return result

    group = GroupCommit(transaction, max_group=3, max_concurrent=2)
    names = [f"u{n}" for n in range(10)]
    results = await asyncio.gather(*(group(Unit(name)) for name in names))
    assert results == [f"{name} filed" for name in names]
    assert sorted(ran) == sorted(names)
