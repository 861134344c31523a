"""Writes a transaction sends later, several in one statement (PostgreSQL).

An append whose result nobody reads — a write's audit record — need not cost a round trip of its
own: it waits in the transaction (`Tx.defer`) and goes to the database as a data-modifying WITH
query in front of the transaction's next statement that carries them (`Tx.fetchval_carrying`, e.g.
the HL7 gateway's record of a message's outcome), or of a statement of their own just before the
commit. (A queued job is not deferred: whether it was new decides whether the workers are woken.)

The queries of one statement run on one snapshot and cannot see each other's rows (PostgreSQL's
data-modifying WITH), so a deferred write must not touch a row that a statement sent before it or
with it reads or writes: appends to their own tables do not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fhir_server.storage.driver import PLACEHOLDER

__all__ = ["Deferred", "carrying", "together"]

Deferred = tuple[str, tuple[Any, ...]]


def _shifted(sql: str, offset: int) -> str:
    """`sql` with its parameters `$n` renumbered `$(n + offset)`."""
    return PLACEHOLDER.sub(lambda m: f"${int(m.group(1)) + offset}", sql) if offset else sql


def carrying(sql: str, args: Sequence[Any], deferred: Sequence[Deferred]) -> tuple[str, list[Any]]:
    """`sql` (not itself a WITH query) with the deferred writes in front of it as WITH queries; its
    own parameters keep their numbers, theirs follow."""
    if not deferred:
        return sql, list(args)
    if sql.lstrip()[:4].upper() == "WITH":
        raise ValueError("deferred writes go in front of a statement without a WITH clause of its own")
    queries: list[str] = []
    values = list(args)
    for n, (write, write_args) in enumerate(deferred):
        queries.append(f"deferred_{n} AS ({_shifted(write, len(values))})")
        values.extend(write_args)
    return "WITH " + ", ".join(queries) + " " + sql, values


def together(deferred: Sequence[Deferred]) -> tuple[str, list[Any]]:
    """The deferred writes as one statement of their own."""
    if len(deferred) == 1:
        write, write_args = deferred[0]
        return write, list(write_args)
    return carrying("SELECT 1", (), deferred)
