"""What makes the pipeline run: a change subscriber that queues its jobs in the write's transaction.

`Triggers.on_changes` runs inside the transaction of every write, whichever door it came through
(REST, a transaction Bundle, the HL7 gateway), so a job exists if and only if its write committed:

- a lab or vital-signs Observation, or any Observation with a code a rule reads, and a
  DiagnosticReport, queue `ai-pipeline.assess` for their patient: one job per patient while it waits
  (`JobQueue.coalesce`), which gathers the results that arrive meanwhile as its sources, so an ORU^R01
  with twenty results, or a hundred messages for one patient while the worker is busy, queue one job
  and the queue never holds more jobs than patients with new results;
- a DocumentReference, or a DiagnosticReport with a `presentedForm`, carrying a scanned image (PNG,
  JPEG, TIFF) or PDF queues `ai-pipeline.extract` for that version of it.

Deletes queue nothing (there is nothing left to read). Neither do the pipeline's own extracted
Observations: the extraction job assesses the patient itself, in the transaction that writes them.
Nor, unless `on_bulk_load` (`FHIR_AI_PIPELINE_ON_BULK_IMPORT`), do bulk loads (`$import`,
`fhir-server import`, demo data; `RequestContext.bulk_load`): a million-row migration carries
history, not results waiting for a clinician, and would queue a job per patient and document.
`$assess-risk` and `$extract` assess what was loaded when it is wanted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ai_pipeline.attachments import scanned_attachments
from ai_pipeline.fhir_output import METHOD_SYSTEM
from ai_pipeline.rules import RULES
from fhir_server.jobs import JobQueue
from fhir_server.services.ports import Change
from fhir_server.storage.repository import Tx

__all__ = ["ASSESS", "EXTRACT", "Triggers", "patient_id", "assessable"]

ASSESS = "ai-pipeline.assess"
EXTRACT = "ai-pipeline.extract"

_CATEGORIES = frozenset({"laboratory", "vital-signs"})
_RULE_CODES = frozenset(code for rule in RULES.values() for spec in rule.spec.inputs for code in spec.loinc)
_PATIENT = re.compile(r"(?:^|/)Patient/([A-Za-z0-9\-.]{1,64})$")


def patient_id(resource: dict[str, Any]) -> str | None:
    """The id of the Patient the resource is about (`subject`), or None when it is about no patient."""
    reference = (resource.get("subject") or {}).get("reference")
    if not isinstance(reference, str):
        return None
    match = _PATIENT.search(reference.split("/_history/", 1)[0])
    return match.group(1) if match else None


def _codes(concept: Any) -> set[str]:
    return {c.get("code") for c in (concept or {}).get("coding", []) if c.get("system") == "http://loinc.org"}


def _extracted_by_us(observation: dict[str, Any]) -> bool:
    method = observation.get("method") or {}
    return observation.get("status") == "preliminary" and any(
        c.get("system") == METHOD_SYSTEM for c in method.get("coding", []))


def assessable(observation: dict[str, Any]) -> bool:
    """A lab or vital-signs Observation, or one a rule reads, that the pipeline did not make itself."""
    if _extracted_by_us(observation):
        return False
    categories = {c.get("code") for cat in observation.get("category") or [] for c in (cat or {}).get("coding", [])}
    if categories & _CATEGORIES:
        return True
    codes = _codes(observation.get("code"))
    for component in observation.get("component") or []:
        codes |= _codes((component or {}).get("code"))
    return bool(codes & _RULE_CODES)


class Triggers:
    def __init__(self, jobs: JobQueue, *, on_bulk_load: bool = False) -> None:
        self.jobs = jobs
        self.on_bulk_load = on_bulk_load

    async def on_change(self, tx: Tx, change: Change) -> None:
        """The ChangeSubscriber."""
        await self.on_changes(tx, [change])

    async def on_changes(self, tx: Tx, changes: Sequence[Change]) -> None:
        """The changes of one write (`ports.announce`): one assessment per patient, every result of
        the patient among them a source of it, then an extraction per scanned document."""
        assessments: dict[str, _Assessment] = {}
        extractions: list[dict[str, Any]] = []
        for change in changes:
            if change.res_type not in ("Observation", "DiagnosticReport", "DocumentReference"):
                continue
            if change.context is not None and change.context.bulk_load and not self.on_bulk_load:
                continue
            resource = change.resource  # read only now: a bulk load's resources are parsed only if needed
            if resource is None:
                continue
            patient = patient_id(resource)
            if change.res_type != "DocumentReference" and patient is not None and (
                    change.res_type == "DiagnosticReport" or assessable(resource)):
                assessment = assessments.setdefault(patient, _Assessment())
                assessment.sources.append(f"{change.res_type}/{change.res_id}/_history/{change.version_id}")
                assessment.encounter = (resource.get("encounter") or {}).get("reference") or assessment.encounter
            if change.res_type != "Observation" and scanned_attachments(resource):
                extractions.append({"type": change.res_type, "id": change.res_id, "version": change.version_id})
        for patient, assessment in assessments.items():
            await self.jobs.coalesce(tx, ASSESS, patient, {"patient": patient, "encounter": assessment.encounter,
                                                           "sources": assessment.sources}, extend="sources")
        for extraction in extractions:
            await self.jobs.enqueue(tx, EXTRACT, extraction)


@dataclass(slots=True)
class _Assessment:
    """What one write adds to a patient's assessment: its results, and the encounter they belong to."""

    encounter: str | None = None
    sources: list[str] = field(default_factory=list)
