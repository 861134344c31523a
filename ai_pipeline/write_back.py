"""Writing the pipeline's resources in one transaction, so that running it again changes nothing.

Every resource the pipeline makes has an id derived from what it is about: a RiskAssessment from
(patient, rule), an extracted Observation from (document, attachment, test, occurrence). A newer
assessment of the same rule for the same patient therefore replaces the older one as its next
version (the history keeps every earlier one), and a write whose content equals the stored version
(apart from the time of assessment) is skipped, as is one a clinician has since marked, unless the
conclusion itself changed. When anything was written, one Provenance names the written versions as
targets, the pipeline's Device as the agent and the sources (the triggering resource, the document)
as entities; the Device itself is written (or updated to the current versions) in the same transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ai_pipeline.fhir_output import provenance
from ai_pipeline.identity import DEVICE_ID, DEVICE_REFERENCE, device
from fhir_server.context import RequestContext
from fhir_server.errors import Gone, NotFound
from fhir_server.services import ResourceService
from fhir_server.services.write_ops import Put, Remove, WriteOp
from fhir_server.storage.repository import Tx
from resources import fhir_json

__all__ = ["WriteBack", "Written", "derived_id"]

# elements that differ between two runs over the same data, left out when comparing contents
_VOLATILE = ("id", "meta", "occurrenceDateTime", "issued", "status")


def derived_id(*parts: str) -> str:
    """A stable FHIR id for what `parts` name (at most 64 characters, [A-Za-z0-9-])."""
    return "ai-" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:40]


def _essence(resource: dict[str, Any]) -> bytes:
    kept = {k: v for k, v in resource.items() if k not in _VOLATILE}
    if "note" in kept:
        kept["note"] = [{k: v for k, v in note.items() if k != "time"} for note in kept["note"]]
    return fhir_json.dumps(kept)


@dataclass(slots=True)
class Written:
    """What one write-back did: the versions it wrote, the resources it left as they were, its Provenance."""

    targets: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    provenance: str | None = None


class WriteBack:
    def __init__(self, resources: ResourceService) -> None:
        self.resources = resources

    async def write_in(self, tx: Tx, ctx: RequestContext, wanted: Sequence[dict[str, Any]], *, recorded: datetime,
                       sources: Sequence[str], reason: str, remove: Sequence[tuple[str, str]] = ()) -> Written:
        """Make `wanted` (resources with their ids) current and delete `remove` ((type, id) pairs),
        skipping what is already so; then record a Provenance if anything was written."""
        done = Written()
        ops: list[WriteOp] = []
        for resource in wanted:
            res_type, res_id = resource["resourceType"], resource["id"]
            stored = await self._current(tx, ctx, res_type, res_id)
            if stored is not None and _essence(stored) == _essence(resource):
                done.unchanged.append(f"{res_type}/{res_id}")
                continue
            ops.append(Put(self.resources.prepare_update(res_type, res_id, resource), res_id))
        for res_type, res_id in remove:
            ops.append(Remove(res_type, res_id))
            done.removed.append(f"{res_type}/{res_id}")
        if not ops:
            return done
        await self._device_in(tx, ctx)
        results = await self.resources.write_many_in(tx, ctx, ops)
        done.targets = [r.version.versioned_path for r in results
                        if r.changed and r.version is not None and not r.version.deleted]
        if done.targets:
            record = provenance(done.targets, recorded=recorded, device=DEVICE_REFERENCE, sources=sources,
                                reason=reason)
            created = await self.resources.create_in(tx, ctx, self.resources.prepare("Provenance", record))
            assert created.version is not None
            done.provenance = created.version.versioned_path
        return done

    async def _current(self, tx: Tx, ctx: RequestContext, res_type: str, res_id: str) -> dict[str, Any] | None:
        try:
            version = await self.resources.read_in(tx, ctx, res_type, res_id)
        except (NotFound, Gone):
            return None
        return fhir_json.loads(version.body or b"{}")

    async def _device_in(self, tx: Tx, ctx: RequestContext) -> None:
        wanted = device()
        stored = await self._current(tx, ctx, "Device", DEVICE_ID)
        if stored is None or _essence(stored) != _essence(wanted):
            await self.resources.update_in(tx, ctx, DEVICE_ID, self.resources.prepare_update("Device", DEVICE_ID, wanted))
