"""Custom SearchParameter resources: served by search as soon as they are written, and reindexed.

https://hl7.org/fhir/R4/searchparameter.html. A SearchParameter created, updated or deleted through
the service layer reaches `on_change` (a `ChangeSubscriber`, inside the write's transaction): the
definition is checked (a broken one fails the write with 400), registered in this process's
registry, and a `reindex` job is queued in the same transaction, so the index rows of the existing
resources of its base types are rewritten in the background, `batch_size` resources per
transaction (each batch locks only its own rows, so writes go on meanwhile).

Every process loads the stored SearchParameters at start (`load`) and notices changes made by
others before searching (`refresh`): it compares the count and latest `lastUpdated` of the stored
SearchParameter rows (one index-only query, at most every `check_seconds`) with what it loaded.
A retired SearchParameter is not served.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

from sqlalchemy import false, func, select

from fhir_server.db.tables import resources
from fhir_server.errors import BadRequest
from fhir_server.jobs import Job, JobQueue, PermanentJobError
from fhir_server.search import SearchRegistry, extract
from fhir_server.services.ports import Change
from fhir_server.storage.repository import ResourceStore, Tx
from resources import RESOURCE_TYPES, fhir_json

__all__ = ["SearchParameters", "REINDEX"]

log = logging.getLogger("fhir_server.search")

REINDEX = "reindex"
_TYPE = "SearchParameter"


@cache
def _official_by_code() -> Mapping[str, tuple[dict[str, Any], ...]]:
    from resources.definitions import search_parameters

    found: dict[str, list[dict[str, Any]]] = {}
    for definition in search_parameters():
        found.setdefault(definition["code"], []).append(definition)
    return {code: tuple(items) for code, items in found.items()}


def base_types(definition: Mapping[str, Any]) -> list[str]:
    """The concrete resource types a definition's `base` covers."""
    types: set[str] = set()
    for name in definition.get("base") or ():
        if name in ("Resource", "DomainResource"):
            types.update(RESOURCE_TYPES)
        elif name in RESOURCE_TYPES:
            types.add(name)
    return sorted(types)


def _served(definition: Mapping[str, Any] | None) -> bool:
    return definition is not None and definition.get("status") != "retired"


class SearchParameters:
    def __init__(self, *, store: ResourceStore, registry: SearchRegistry, jobs: JobQueue, batch_size: int = 200,
                 check_seconds: float = 2.0) -> None:
        self.store = store
        self.registry = registry
        self.jobs = jobs
        self.batch_size = batch_size
        self.check_seconds = check_seconds
        self._custom: dict[str, dict[str, Any]] = {}  # stored SearchParameter id -> definition
        self._applied: list[dict[str, Any]] = []
        self._state: tuple[int, int] | None = None
        self._checked_at = 0.0

    # -- the registry --------------------------------------------------------------------------

    def _apply(self) -> None:
        """Make the registry the official parameters plus the current custom ones."""
        codes = {str(definition.get("code")) for definition in self._applied}
        for definition in self._applied:
            if isinstance(definition.get("url"), str):
                self.registry.unregister(definition["url"])
        for code in codes:
            for official in _official_by_code().get(code, ()):
                self.registry.register(official)
        applied: list[dict[str, Any]] = []
        for res_id, definition in sorted(self._custom.items()):
            try:
                self.registry.register(definition)
                applied.append(definition)
            except BadRequest as exc:
                log.warning("stored SearchParameter/%s is not served: %s", res_id, exc.issues[0].diagnostics)
        self._applied = applied

    async def _read_state(self, tx: Tx) -> tuple[int, int]:
        statement = select(func.count().label("n"), func.max(resources.c.last_updated).label("latest")).where(
            resources.c.res_type == _TYPE)
        row = (await tx.select(statement))[0]
        return int(row["n"] or 0), int(row["latest"] or 0)

    async def load(self) -> None:
        """Register every stored, not retired SearchParameter (at start, and when another process changed one)."""
        async with self.store.read() as tx:
            state = await self._read_state(tx)
            rows = await tx.select(select(resources.c.pk).where(resources.c.res_type == _TYPE,
                                                                 resources.c.deleted.is_(false())))
            current = await self.store.current_by_pks(tx, [row["pk"] for row in rows])
        custom: dict[str, dict[str, Any]] = {}
        for row in current:
            if row.body is None:
                continue
            definition = fhir_json.loads(row.body)
            if isinstance(definition, dict) and _served(definition):
                custom[row.res_id] = definition
        self._custom = custom
        self._apply()
        self._state = state
        self._checked_at = time.monotonic()

    async def refresh(self, *, force: bool = False) -> None:
        """Reload when the stored SearchParameters changed since the last load (checked at most every
        `check_seconds`, unless `force`)."""
        if not force and time.monotonic() - self._checked_at < self.check_seconds:
            return
        async with self.store.read() as tx:
            state = await self._read_state(tx)
        self._checked_at = time.monotonic()
        if state != self._state:
            await self.load()

    # -- writes of SearchParameter resources -----------------------------------------------------

    async def on_change(self, tx: Tx, change: Change) -> None:
        """The ChangeSubscriber: register the new definition and queue the reindexing of its bases."""
        if change.res_type != _TYPE:
            return
        before = self._custom.get(change.res_id)
        definition = change.resource if change.action != "delete" else None
        if _served(definition):
            assert definition is not None
            try:
                SearchRegistry().register(definition)
            except BadRequest as exc:
                raise BadRequest(f"this SearchParameter cannot be searched with: {exc.issues[0].diagnostics}",
                                 code="business-rule") from exc
            self._custom[change.res_id] = definition
        else:
            self._custom.pop(change.res_id, None)
        self._apply()
        # the write may still roll back: check the stored state again at the next search
        self._state, self._checked_at = None, 0.0
        types = sorted(set(base_types(definition or {})) | set(base_types(before or {})))
        if types:
            await self.enqueue_reindex(tx, types)

    # -- reindexing ------------------------------------------------------------------------------

    async def enqueue_reindex(self, tx: Tx, types: Iterable[str], after: int = 0) -> int | None:
        return await self.jobs.enqueue(tx, REINDEX, {"types": sorted(types), "after": after})

    async def start_reindex(self, types: Iterable[str] | None) -> int | None:
        """Queue a reindex of `types` (None: every type) by hand (`$reindex`); returns the job's pk."""
        chosen = sorted(RESOURCE_TYPES) if types is None else sorted(types)
        async with self.store.write() as tx:
            return await self.enqueue_reindex(tx, chosen)

    async def reindex(self, job: Job, tx: Tx) -> dict[str, Any]:
        """The `reindex` job: rewrite the index rows of the next batch of resources of the job's types,
        then queue the job for the batch after (in the same transaction)."""
        types, after = job.payload.get("types"), job.payload.get("after", 0)
        if not isinstance(types, list) or not all(isinstance(t, str) for t in types) or not isinstance(after, int):
            raise PermanentJobError("a reindex job needs 'types' (a list of resource types) and 'after' (a pk)")
        await self.refresh(force=True)
        statement = (
            select(resources.c.pk).where(resources.c.res_type.in_(types), resources.c.deleted.is_(false()),
                                         resources.c.pk > after)
            .order_by(resources.c.pk).limit(self.batch_size).with_for_update()
        )
        pks = [row["pk"] for row in await tx.select(statement)]
        for row in await self.store.current_by_pks(tx, pks):
            if row.body is None or row.deleted:
                continue
            resource = fhir_json.loads(row.body)
            if isinstance(resource, dict):
                await self.store.write_index(tx, row.pk, row.res_type, extract(self.registry, resource), replace=True)
        if len(pks) == self.batch_size:
            await self.enqueue_reindex(tx, types, pks[-1])
        return {"reindexed": len(pks), "after": pks[-1] if pks else after, "done": len(pks) < self.batch_size}
