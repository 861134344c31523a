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
from fhir_server.ids import new_id
from fhir_server.services import ResourceService
from fhir_server.services.outcome import ResourceVersion
from fhir_server.services.write_ops import Create, Put, Remove, WriteOp
from fhir_server.storage.repository import Tx
from resources import fhir_json

__all__ = ["WriteBack", "WriteRequest", "Written", "derived_id"]

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


@dataclass(frozen=True, slots=True)
class WriteRequest:
    """What one assessment or extraction wants: `wanted` current (resources with their ids), `remove`
    ((type, id) pairs) deleted; `sources` and `reason` go in its Provenance."""

    wanted: Sequence[dict[str, Any]]
    sources: Sequence[str]
    reason: str
    remove: Sequence[tuple[str, str]] = ()


class WriteBack:
    def __init__(self, resources: ResourceService) -> None:
        self.resources = resources

    async def write_in(self, tx: Tx, ctx: RequestContext, wanted: Sequence[dict[str, Any]], *, recorded: datetime,
                       sources: Sequence[str], reason: str, remove: Sequence[tuple[str, str]] = ()) -> Written:
        """Make `wanted` (resources with their ids) current and delete `remove` ((type, id) pairs),
        skipping what is already so; then record a Provenance if anything was written."""
        return (await self.write_all_in(tx, ctx, [WriteRequest(wanted, sources, reason, remove)],
                                        recorded=recorded))[0]

    async def write_all_in(self, tx: Tx, ctx: RequestContext, requests: Sequence[WriteRequest], *,
                           recorded: datetime) -> list[Written]:
        """`write_in` for several requests (each naming resources of its own) in one read of what is
        stored and one write of every new version; each request that wrote anything gets its Provenance."""
        keys = [(r["resourceType"], r["id"]) for request in requests for r in request.wanted]
        stored = await self.resources.read_many_in(tx, ctx, [*keys, ("Device", DEVICE_ID)])
        done = [Written() for _ in requests]
        ops: list[WriteOp] = []
        owners: list[int] = []  # per op, the request it is for
        for n, request in enumerate(requests):
            for resource in request.wanted:
                res_type, res_id = resource["resourceType"], resource["id"]
                current = stored.get((res_type, res_id))
                if current is not None and _essence(_body(current)) == _essence(resource):
                    done[n].unchanged.append(f"{res_type}/{res_id}")
                    continue
                ops.append(Put(self.resources.prepare_update(res_type, res_id, resource), res_id))
                owners.append(n)
            for res_type, res_id in request.remove:
                ops.append(Remove(res_type, res_id))
                owners.append(n)
                done[n].removed.append(f"{res_type}/{res_id}")
        if not ops:
            return done
        device_ops = self._device_ops(stored.get(("Device", DEVICE_ID)))
        results = await self.resources.write_many_in(tx, ctx, [*device_ops, *ops])
        for n, result in zip(owners, results[len(device_ops):], strict=True):
            if result.changed and result.version is not None and not result.version.deleted:
                done[n].targets.append(result.version.versioned_path)
        recording = [(n, provenance(done[n].targets, recorded=recorded, device=DEVICE_REFERENCE,
                                    sources=request.sources, reason=request.reason))
                     for n, request in enumerate(requests) if done[n].targets]
        if not recording:
            return done
        created = await self.resources.write_many_in(tx, ctx, [
            Create(self.resources.prepare("Provenance", record), new_id()) for _, record in recording])
        for (n, _), result in zip(recording, created, strict=True):
            assert result.version is not None
            done[n].provenance = result.version.versioned_path
        return done

    def _device_ops(self, stored: ResourceVersion | None) -> list[WriteOp]:
        """The pipeline's Device written (or brought to the current versions) when it is not as wanted."""
        wanted = device()
        if stored is not None and _essence(_body(stored)) == _essence(wanted):
            return []
        return [Put(self.resources.prepare_update("Device", DEVICE_ID, wanted), DEVICE_ID)]


def _body(version: ResourceVersion) -> dict[str, Any]:
    return fhir_json.loads(version.body or b"{}")
