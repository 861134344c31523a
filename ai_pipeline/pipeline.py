"""The pipeline on stored data: assess a patient, extract a document's results, write them back.

    pipeline = Pipeline(resources=..., search=..., base_url=...)
    outcome = await pipeline.assess_in(tx, ctx, "123")                     # rules over Patient/123
    outcomes = await pipeline.assess_all_in(tx, ctx, [AssessRequest("123"), ...])  # several, written together
    readings = await pipeline.read_documents(ctx, document_reference)     # OCR/text layer + NLP
    outcome = await pipeline.extract_in(tx, ctx, document_reference, readings)

Reading documents (OCR) runs in a thread, before and outside the transaction that writes the results
(the `$extract` operation and the extract job's `prepare` step both call it with no transaction open). Extracted results become preliminary
Observations (ids derived from the document, the attachment and the test, tagged with the document
in `identifier`, and `derivedFrom` it when it is a DocumentReference); results the document no longer
gives are deleted. The patient is then assessed in the same transaction, with those Observations as
inputs, and everything is written by `WriteBack` with one Provenance.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ai_pipeline.attachments import Scanned, attachment_bytes, scanned_attachments
from ai_pipeline.document import OcrSettings
from ai_pipeline.errors import PipelineError
from ai_pipeline.fhir_output import lab_observation, risk_assessment
from ai_pipeline.identity import DEVICE_REFERENCE, PIPELINE_PRINCIPAL
from ai_pipeline.nlp.extraction import LabExtractor
from ai_pipeline.ocr import read_document
from ai_pipeline.patient_record import load_record
from ai_pipeline.report import ReportReading
from ai_pipeline.rules import Finding, NotEvaluated, evaluate
from ai_pipeline.triggers import patient_id
from ai_pipeline.write_back import WriteBack, WriteRequest, Written, derived_id
from fhir_server.context import RequestContext
from fhir_server.errors import Gone, NotFound
from fhir_server.services import ResourceService, SearchService
from fhir_server.storage.repository import Tx

__all__ = ["Pipeline", "AssessRequest", "Assessment", "Extraction", "Reading", "EXTRACTED_SYSTEM"]

EXTRACTED_SYSTEM = "urn:fhir-server:ai-pipeline:extracted-from"
_ASSESSMENT_REASON = "clinical decision-support rules over the patient's observations"


@dataclass(frozen=True, slots=True)
class AssessRequest:
    """A patient to assess, the Encounter the results came in (if known) and the results that asked."""

    patient: str
    encounter: str | None = None
    sources: Sequence[str] = ()


@dataclass(slots=True)
class Assessment:
    """One patient's assessment: the resources wanted, what the rules could not evaluate, what was written."""

    patient: str
    assessments: list[dict[str, Any]]
    not_evaluated: list[NotEvaluated]
    written: Written = field(default_factory=Written)


@dataclass(frozen=True, slots=True)
class Reading:
    """One scanned attachment as read."""

    scanned: Scanned
    report: ReportReading


@dataclass(slots=True)
class Extraction:
    source: str
    readings: list[Reading]
    observations: list[dict[str, Any]]
    assessment: Assessment | None
    written: Written = field(default_factory=Written)
    # why nothing was written although the documents were read
    reason: str | None = None

    @property
    def status(self) -> str:
        if self.reason is not None:
            return "rejected"
        statuses = {reading.report.status for reading in self.readings}
        if "extracted" in statuses:
            return "extracted"
        return "no-lab-results" if "no-lab-results" in statuses else "rejected"


def _encounter(resource: dict[str, Any]) -> str | None:
    """The Encounter a resource belongs to (DiagnosticReport.encounter, DocumentReference.context.encounter)."""
    found = resource.get("encounter") or (resource.get("context") or {}).get("encounter")
    if isinstance(found, list):
        found = found[0] if found else None
    reference = (found or {}).get("reference") if isinstance(found, dict) else None
    return reference if isinstance(reference, str) and reference.startswith("Encounter/") else None


def _encounter_reference(encounter: Any) -> str | None:
    return encounter if isinstance(encounter, str) and encounter.startswith("Encounter/") else None


def _clock() -> datetime:
    return datetime.now(UTC)


class Pipeline:
    def __init__(self, *, resources: ResourceService, search: SearchService, base_url: str,
                 ocr: OcrSettings | None = None, clock: Callable[[], datetime] = _clock) -> None:
        self.resources = resources
        self.search = search
        self.base_url = base_url
        self.ocr = ocr or OcrSettings()
        self.clock = clock
        self.writer = WriteBack(resources)
        self._extractor: LabExtractor | None = None
        self._extractor_lock = threading.Lock()  # spaCy's pipeline is not made for concurrent calls

    def context(self) -> RequestContext:
        """A context for work done under the pipeline's own principal."""
        return RequestContext(principal=PIPELINE_PRINCIPAL, base_url=self.base_url, request_id="ai-pipeline")

    # -- assessment ------------------------------------------------------------------------------

    async def assess_in(self, tx: Tx, ctx: RequestContext, patient: str, *, encounter: str | None = None,
                        sources: Sequence[str] = (), rules: Sequence[str] | None = None) -> Assessment:
        """Run the rules over the patient's record and write the RiskAssessments (NotFound: no Patient)."""
        assessment = await self._assessment(ctx, patient, encounter=_encounter_reference(encounter), rules=rules)
        assessment.written = await self.writer.write_in(tx, ctx, assessment.assessments, recorded=self.clock(),
                                                        sources=sources, reason=_ASSESSMENT_REASON)
        return assessment

    async def assess_all_in(self, tx: Tx, ctx: RequestContext,
                            requests: Sequence[AssessRequest]) -> list[Assessment | NotFound | Gone]:
        """`assess_in` (every rule) for several patients, their RiskAssessments written together
        (`WriteBack.write_all_in`). A patient asked for twice is assessed once, for the sources of
        both; a request whose Patient is not there gets its NotFound or Gone."""
        positions: dict[str, list[int]] = {}
        for n, request in enumerate(requests):
            positions.setdefault(request.patient, []).append(n)
        outcomes: list[Assessment | NotFound | Gone | None] = [None] * len(requests)
        assessed: list[tuple[list[int], Assessment, list[str]]] = []
        for patient, at in positions.items():
            encounters = [e for e in (_encounter_reference(requests[n].encounter) for n in at) if e is not None]
            try:
                assessment = await self._assessment(ctx, patient, encounter=encounters[-1] if encounters else None,
                                                    rules=None)
            except (NotFound, Gone) as missing:
                for n in at:
                    outcomes[n] = missing
                continue
            assessed.append((at, assessment, list(dict.fromkeys(s for n in at for s in requests[n].sources))))
        written = await self.writer.write_all_in(
            tx, ctx, [WriteRequest(a.assessments, sources, _ASSESSMENT_REASON) for _, a, sources in assessed],
            recorded=self.clock())
        for (at, assessment, _), done in zip(assessed, written, strict=True):
            assessment.written = done
            for n in at:
                outcomes[n] = assessment
        return [outcome for outcome in outcomes if outcome is not None]

    async def _assessment(self, ctx: RequestContext, patient: str, *, encounter: str | None,
                          rules: Sequence[str] | None, written: Sequence[dict[str, Any]] = ()) -> Assessment:
        now = self.clock()
        record = await load_record(self.resources, self.search, ctx, patient, on=now.date(), written=written)
        results = evaluate(record.observations, record.demographics, at=now, rules=rules)
        wanted = []
        for result in results:
            if isinstance(result, Finding):
                resource = risk_assessment(result, subject=f"Patient/{patient}", occurrence=now, encounter=encounter,
                                           performer=DEVICE_REFERENCE)
                resource["id"] = derived_id("RiskAssessment", f"Patient/{patient}", result.rule_id)
                wanted.append(resource)
        return Assessment(patient, wanted, [r for r in results if isinstance(r, NotEvaluated)])

    # -- documents -------------------------------------------------------------------------------

    async def read_documents(self, ctx: RequestContext, resource: dict[str, Any]) -> list[Reading]:
        """Read every scanned attachment (in a thread); a bad one reads as `rejected`, never raises."""
        readings = []
        for scanned in scanned_attachments(resource):
            try:
                data = await attachment_bytes(self.resources, ctx, scanned, self.ocr)
            except PipelineError as error:
                readings.append(Reading(scanned, ReportReading("rejected", error=error)))
                continue
            readings.append(Reading(scanned, await asyncio.to_thread(self._read, data)))
        return readings

    def _read(self, data: bytes) -> ReportReading:
        try:
            document = read_document(data, self.ocr)
        except PipelineError as error:
            return ReportReading("rejected", error=error)
        with self._extractor_lock:
            if self._extractor is None:
                self._extractor = LabExtractor(review_below_confidence=self.ocr.review_below_confidence)
            extraction = self._extractor.extract(document)
        return ReportReading("extracted" if extraction.is_lab_report else "no-lab-results", document, extraction)

    async def extract_in(self, tx: Tx, ctx: RequestContext, resource: dict[str, Any],
                         readings: list[Reading]) -> Extraction:
        """Write the Observations read from `resource`'s documents and the patient's new assessment."""
        res_type, res_id = resource["resourceType"], resource["id"]
        source = f"{res_type}/{res_id}"
        versioned = f"{source}/_history/{(resource.get('meta') or {}).get('versionId', '1')}"
        extraction = Extraction(source, readings, [], None)
        patient = patient_id(resource)
        if extraction.status != "extracted":
            return extraction
        if patient is None:
            extraction.reason = f"{source} names no Patient as its subject, so its results cannot be filed"
            return extraction
        encounter = _encounter(resource)
        extraction.observations = self._observations(source, patient, encounter, readings)
        keep = {o["id"] for o in extraction.observations}
        stale = [("Observation", oid) for oid in await self.resources.match_in(
            tx, "Observation", [("identifier", f"{EXTRACTED_SYSTEM}|{source}")], serialize=False) if oid not in keep]
        assessment = await self._assessment(ctx, patient, encounter=encounter, rules=None,
                                            written=extraction.observations)
        extraction.assessment = assessment
        extraction.written = await self.writer.write_in(
            tx, ctx, [*extraction.observations, *assessment.assessments], recorded=self.clock(), sources=[versioned],
            reason="lab results extracted from a document (OCR and NLP), then clinical decision-support rules",
            remove=stale)
        return extraction

    def _observations(self, source: str, patient: str, encounter: str | None,
                      readings: list[Reading]) -> list[dict[str, Any]]:
        issued = self.clock()
        found = []
        for reading in readings:
            if reading.report.extraction is None:
                continue
            seen: dict[str, int] = {}
            for result in reading.report.extraction.results:
                seen[result.loinc] = seen.get(result.loinc, 0) + 1
                observation = lab_observation(result, subject=f"Patient/{patient}", document=source,
                                              encounter=encounter, issued=issued)
                if not source.startswith("DocumentReference/"):
                    del observation["derivedFrom"]  # R4 derivedFrom cannot point at a DiagnosticReport
                observation["id"] = derived_id("Observation", source, reading.scanned.path, result.loinc,
                                               str(seen[result.loinc]))
                observation["identifier"] = [{"system": EXTRACTED_SYSTEM, "value": source}]
                found.append(observation)
        return found
