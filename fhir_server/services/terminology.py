"""The terminology operations served over FHIR, and user-created CodeSystems, ValueSets and
ConceptMaps taking part in them (https://hl7.org/fhir/R4/terminology-service.html).

The operations themselves are `terminology`'s. The content the server ships is read from the database
(`load_content`: what `fhir-server migrate` loaded, see `db/terminology_content.py`); this module feeds
the stored resources into the store on top of it (at start; on every write of this process once it
commits, through a change subscriber; and the writes of other processes, API workers, job workers, the
MLLP gateway, by `follow`ing the table), adapts the operations to the operation registry, and answers
search's `CodeSets` port (the codes behind the token modifiers `:in`, `:not-in`, `:above` and `:below`).
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from conformance import terminology_capabilities
from fhir_server.background import stop
from fhir_server.context import RequestContext
from fhir_server.db.terminology_content import decode
from fhir_server.errors import FhirError
from fhir_server.operations.registry import OperationCall, OperationRegistry, OperationResult
from fhir_server.services.ports import Change
from fhir_server.services.resources import ResourceService
from fhir_server.storage.repository import ResourceStore, Tx
from resources import fhir_json
from terminology import OPERATIONS, TerminologyStore, operation_definitions

__all__ = ["TerminologyService", "TERMINOLOGY_TYPES", "load_content"]

log = logging.getLogger("fhir_server.terminology")

TERMINOLOGY_TYPES = ("CodeSystem", "ValueSet", "ConceptMap")
# the input that carries the instance's own resource, for [type]/[id]/$operation
INSTANCE_INPUT = {"ValueSet": "valueSet", "CodeSystem": "codeSystem", "ConceptMap": "conceptMap"}
# a literal reference to a stored ValueSet: `ValueSet/123`, or the same as an absolute URL
_STORED_VALUE_SET = re.compile(r"(?:.*/)?ValueSet/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?")
_STORED = ("SELECT res_type, res_id, version_id, body FROM resources "
           "WHERE res_type IN ('CodeSystem', 'ValueSet', 'ConceptMap') AND deleted = $1")
_CHANGED = ("SELECT res_type, res_id, version_id, deleted, body, last_updated FROM resources "
            "WHERE res_type IN ('CodeSystem', 'ValueSet', 'ConceptMap') AND last_updated > $1 ORDER BY last_updated")
_RELEASE = "SELECT digest FROM terminology_release"
_CONTENT = "SELECT body FROM terminology_content ORDER BY position"
# a write stamps `last_updated` before it commits: each look reaches back this far (microseconds), and
# versions already applied are skipped
_COMMIT_LAG = 60_000_000


async def load_content(store: ResourceStore) -> tuple[str | None, list[dict[str, Any]]]:
    """The shipped CodeSystems, ValueSets and ConceptMaps as `fhir-server migrate` loaded them into the
    database, in their shipped order, and the release they are (`terminology.content.release()`);
    (None, []) when nothing was loaded."""
    async with store.read() as tx:
        release = await tx.db.fetchval(_RELEASE)
        rows = await tx.db.fetch(_CONTENT)
    return release, [decode(body) for (body,) in rows]


class TerminologyService:
    def __init__(self, *, store: ResourceStore, resources: ResourceService,
                 terminology: TerminologyStore | None = None) -> None:
        self.store = store
        self.resources = resources
        self.terminology = terminology or TerminologyStore()
        # (type, id) -> (canonical url, version) of the stored resources loaded into the store
        self._loaded: dict[tuple[str, str], tuple[str, str | None]] = {}
        # (type, id) -> the version applied, loaded or not; and the latest `last_updated` seen
        self._applied: dict[tuple[str, str], int] = {}
        self._seen = 0
        self._follower: asyncio.Task[None] | None = None

    async def load_stored(self) -> int:
        """Add every stored CodeSystem, ValueSet and ConceptMap to the terminology store."""
        async with self.store.single() as db:
            self._seen = int(await db.fetchval("SELECT coalesce(max(last_updated), 0) FROM resources "
                                               "WHERE res_type IN ('CodeSystem', 'ValueSet', 'ConceptMap')"))
            rows = await db.fetch(_STORED, False)
        for res_type, res_id, version_id, sealed in rows:
            body = self.store.open(res_type, res_id, version_id, sealed)
            if body is not None:
                self._add(res_type, res_id, fhir_json.loads(body))
            self._applied[(res_type, res_id)] = version_id
        return len(rows)

    async def refresh(self) -> int:
        """Apply the CodeSystems, ValueSets and ConceptMaps that any process wrote (or deleted) since the
        last look; returns how many versions were applied."""
        async with self.store.single() as db:
            rows = await db.fetch(_CHANGED, self._seen - _COMMIT_LAG)
        applied = 0
        for res_type, res_id, version_id, deleted, sealed, last_updated in rows:
            self._seen = max(self._seen, last_updated)
            if self._applied.get((res_type, res_id), 0) >= version_id:
                continue
            body = None if deleted else self.store.open(res_type, res_id, version_id, sealed)
            self._apply(res_type, res_id, version_id, None if body is None else fhir_json.loads(body))
            applied += 1
        return applied

    def follow(self, interval_seconds: float) -> None:
        """Refresh every `interval_seconds` in the background until `close`."""
        if self._follower is None:
            self._follower = asyncio.get_running_loop().create_task(self._follow(interval_seconds),
                                                                    name="terminology-follower")

    async def close(self) -> None:
        follower, self._follower = self._follower, None
        await stop(follower)

    async def _follow(self, interval_seconds: float) -> None:
        while True:
            await asyncio.sleep(interval_seconds)
            try:
                await self.refresh()
            except Exception as exc:  # the database is away: the next look catches up
                log.warning("could not look for terminology written by other processes: %s", exc)

    def _add(self, res_type: str, res_id: str, resource: dict[str, Any]) -> None:
        url = resource.get("url")
        if not isinstance(url, str):
            return  # without a canonical URL nothing can refer to it in an operation
        try:
            self.terminology.add(resource)
        except (FhirError, ValueError, KeyError, TypeError) as exc:
            log.warning("%s/%s does not take part in terminology operations: %s", res_type, res_id, exc)
            return
        self._loaded[(res_type, res_id)] = (url, resource.get("version"))

    async def on_change(self, tx: Tx, change: Change) -> None:
        """Keep the store in step with this process's writes (a change subscriber of the resource
        service), once their transaction has committed: a rolled-back write changes nothing."""
        if change.res_type not in TERMINOLOGY_TYPES:
            return

        async def apply(_db: Any) -> None:
            self._apply(change.res_type, change.res_id, change.version_id, change.resource)

        tx.on_commit(f"terminology:{change.res_type}/{change.res_id}/{change.version_id}", apply)

    def _apply(self, res_type: str, res_id: str, version_id: int, resource: dict[str, Any] | None) -> None:
        """Version `version_id` of a stored resource replaces what the store held for it (None: deleted)."""
        if self._applied.get((res_type, res_id), 0) >= version_id:
            return  # a newer version is in already (the follower saw it first)
        previous = self._loaded.pop((res_type, res_id), None)
        if previous is not None:
            self.terminology.remove(res_type, previous[0], previous[1])
        if resource is not None:
            self._add(res_type, res_id, resource)
        self._applied[(res_type, res_id)] = version_id

    # -- search's CodeSets port ------------------------------------------------------------------

    def value_set_codes(self, reference: str) -> frozenset[tuple[str, str]]:
        """The (system, code) pairs of the value set with that canonical URL (`url[|version]`), or of
        the stored ValueSet a literal reference names (https://hl7.org/fhir/R4/search.html#token)."""
        if self.terminology.value_set_resource(reference) is None:
            stored = _STORED_VALUE_SET.fullmatch(reference)
            loaded = self._loaded.get(("ValueSet", stored[1])) if stored else None
            if loaded is not None:
                url, version = loaded
                return self.terminology.codes_in(f"{url}|{version}" if version else url)
        return self.terminology.codes_in(reference)

    def related_codes(self, system: str, code: str, *, above: bool) -> frozenset[str]:
        """The codes subsuming `code` (`above`) or subsumed by it in the code system `system`."""
        if above:
            return self.terminology.ancestors(system, code)
        return self.terminology.descendants(system, code)

    def capabilities(self, *, software_name: str, software_version: str, implementation_url: str | None = None) -> bytes:
        """The TerminologyCapabilities statement of the content held now (stored resources included),
        cached by the terminology store until its next write."""
        return self.terminology.memo(
            ("terminology-capabilities", software_name, software_version, implementation_url),
            lambda: fhir_json.dumps(terminology_capabilities(
                self.terminology, software_name=software_name, software_version=software_version,
                implementation_url=implementation_url)))

    def value_set_member(self, value_set: str, system: str | None, code: str) -> bool | None:
        """Whether (system, code) is in the value set; None when the value set or system is unknown."""
        compiled = self.terminology.value_set(value_set)
        if compiled is None or system is None:
            return None
        try:
            return compiled.member(system, code) is not None
        except FhirError:
            return None

    def register_operations(self, registry: OperationRegistry, base_url: str | None = None) -> None:
        definitions = {d["id"]: d for d in operation_definitions(base_url)}
        for operation in OPERATIONS.values():
            definition = dict(definitions[operation.definition_id])
            definition.setdefault("url", definition.get("base"))
            registry.register(definition, self._handler(operation.resource_type, operation.code))

    def _handler(self, res_type: str, code: str) -> Any:
        operation = OPERATIONS[(res_type, code)]

        async def handle(ctx: RequestContext, call: OperationCall) -> OperationResult:
            parameter = [entry for entries in call.inputs.entries.values() for entry in entries]
            if call.level == "instance" and call.res_id is not None:
                version = await self.resources.read(ctx, res_type, call.res_id)
                instance = fhir_json.loads(version.body or b"{}")
                parameter.append({"name": INSTANCE_INPUT[res_type], "resource": instance})
            result = operation.invoke(self.terminology, {"resourceType": "Parameters", "parameter": parameter})
            return OperationResult(result)

        return handle
