"""What the interactions need from the layers beside them, as small protocols.

The service layer is wired with concrete implementations in `fhir_server.bootstrap`; tests may wire
others. Keeping them as protocols lets `services` stay free of search internals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from fhir_server.context import RequestContext
from fhir_server.errors import Issue
from fhir_server.storage.repository import Tx
from resources import fhir_json

__all__ = ["Validator", "Indexer", "Matcher", "IndexRows", "Change", "ChangeSubscriber", "announce"]

IndexRows = Mapping[str, Sequence[Mapping[str, Any]]]


class Validator(Protocol):
    def __call__(self, resource: dict[str, Any]) -> list[Issue]:
        """Every problem found in the resource (errors and warnings); [] when valid."""


class Indexer(Protocol):
    def __call__(self, resource: dict[str, Any]) -> IndexRows:
        """The search index rows of the resource, per index kind (string, token, date...)."""


class Matcher(Protocol):
    async def __call__(self, tx: Tx, res_type: str,
                       criteria: Sequence[tuple[str, str]]) -> list[tuple[int, str]]:
        """(pk, id) of current resources of `res_type` matching the search criteria."""

    async def many(self, tx: Tx, wanted: Sequence[tuple[str, Sequence[tuple[str, str]]]]) -> list[list[tuple[int, str]]]:
        """What `__call__` gives for each (res_type, criteria) of `wanted`, in fewer round trips."""


@dataclass(frozen=True, slots=True)
class Change:
    """One committed-to-be change of a resource: `resource` is the new version (None for a delete);
    `context` is the writer's (who, and whether it is a bulk load).

    `stored` may be the version's JSON bytes rather than its dict: a bulk load announces thousands of
    resources to subscribers that each read a few types, so a body is parsed only when one is read."""

    action: str  # create | update | delete
    res_type: str
    res_id: str
    version_id: int
    stored: dict[str, Any] | bytes | None
    pk: int  # the resource's row in `resources`
    context: RequestContext | None = None

    @property
    def resource(self) -> dict[str, Any] | None:
        stored = self.stored
        if isinstance(stored, bytes):
            stored = fhir_json.loads(stored)
            object.__setattr__(self, "stored", stored)  # parsed once, whoever reads it first
        return stored


class ChangeSubscriber(Protocol):
    async def __call__(self, tx: Tx, change: Change) -> None:
        """Runs inside the write's transaction (e.g. to enqueue a job): if it raises, nothing commits."""


async def announce(tx: Tx, subscribers: Sequence[ChangeSubscriber], changes: Sequence[Change]) -> None:
    """Give each subscriber the changes of one write: all at once to one whose owner takes them so
    (`on_changes(tx, changes)` beside the subscribed `on_change`: the analytics projection writes a
    few statements instead of a few per resource, the AI pipeline queues one job per patient with
    every result as its source), one at a time, in order, to the others."""
    if not changes:
        return
    for subscriber in subscribers:
        many = getattr(getattr(subscriber, "__self__", None), "on_changes", None)
        if callable(many):
            await many(tx, changes)
            continue
        for change in changes:
            await subscriber(tx, change)
