"""The pipeline's job handlers, run by `fhir-server worker` (and `all`) in the job's own transaction.

- `ai-pipeline.assess` {patient, encounter, sources}: the rules over the patient's record; the
  RiskAssessments, the Device and the Provenance (whose entities are the sources: the results that
  asked for the assessment) commit with the job's completion. Queued assessments run up to
  `ASSESS_BATCH` at a time in one transaction (`BatchHandler`), each patient with its own Provenance.
- `ai-pipeline.extract` {type, id, version}: read that version's scanned attachments, write the
  extracted Observations and the patient's assessment. A newer version has its own job, so an older
  one is skipped as `superseded`. Reading (OCR, seconds a page) is the job's `prepare` step, outside
  any transaction, so it never holds SQLite's one writer lock or a PostgreSQL transaction open; the
  write step checks in its transaction that the version read is still the current one.

Bad input never blocks the queue: an unreadable, empty, oversized or non-lab document ends as a done
job whose result gives the reason (nothing is written). A missing Tesseract or poppler is an
installation problem, not the document's: the job fails with that reason for an operator to see.
The reads the job made are audited in its transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ai_pipeline.errors import OcrUnavailable
from ai_pipeline.pipeline import Assessment, AssessRequest, Extraction, Pipeline, Reading
from fhir_server.context import RequestContext
from fhir_server.errors import Gone, NotFound
from fhir_server.jobs import Job, PermanentJobError, PreparingHandler
from fhir_server.services.access import AuditLog
from fhir_server.storage.repository import Tx
from resources import fhir_json

__all__ = ["ASSESS_BATCH", "PipelineJobs", "DocumentRead", "assessment_result", "extraction_result"]

ASSESS_BATCH = 16


@dataclass(slots=True)
class DocumentRead:
    """What the extract job's `prepare` step read: the resource's version and its documents, or the
    result that ends the job when there is nothing to read."""

    ctx: RequestContext
    resource: dict[str, Any] = field(default_factory=dict)
    version_id: int = 0
    readings: list[Reading] = field(default_factory=list)
    result: dict[str, Any] | None = None


def _sources(payload: dict[str, Any]) -> list[str]:
    """The results that asked for the assessment, once each (jobs queued by earlier releases name one `source`)."""
    sources = payload.get("sources") or ([payload["source"]] if payload.get("source") else [])
    return list(dict.fromkeys(str(source) for source in sources))


def assessment_result(assessment: Assessment) -> dict[str, Any]:
    written = assessment.written
    return {
        "patient": f"Patient/{assessment.patient}",
        "written": written.targets, "unchanged": written.unchanged, "provenance": written.provenance,
        "not_evaluated": {n.rule_id: n.message for n in assessment.not_evaluated},
    }


def extraction_result(extraction: Extraction) -> dict[str, Any]:
    result: dict[str, Any] = {
        "status": extraction.status, "source": extraction.source,
        "attachments": [{"path": r.scanned.path, "status": r.report.status, "message": r.report.message}
                        for r in extraction.readings],
        "written": extraction.written.targets, "unchanged": extraction.written.unchanged,
        "removed": extraction.written.removed, "provenance": extraction.written.provenance,
    }
    if extraction.reason is not None:
        result["reason"] = extraction.reason
    if extraction.assessment is not None:
        result["not_evaluated"] = {n.rule_id: n.message for n in extraction.assessment.not_evaluated}
    return result


class PipelineJobs:
    def __init__(self, pipeline: Pipeline, audit: AuditLog | None = None) -> None:
        self.pipeline = pipeline
        self.audit = audit
        self.extract = PreparingHandler(self.read_documents, self.file_results)

    async def assess(self, job: Job, tx: Tx) -> dict[str, Any]:
        return (await self.assess_many([job], tx))[0]

    async def assess_many(self, jobs: list[Job], tx: Tx) -> list[dict[str, Any]]:
        """The assessment jobs claimed together (`BatchHandler`), their write-backs in one write."""
        ctx = self.pipeline.context()
        outcomes = await self.pipeline.assess_all_in(tx, ctx, [
            AssessRequest(str(job.payload["patient"]), job.payload.get("encounter"), _sources(job.payload))
            for job in jobs])
        await self._audit(tx, ctx.audit)
        return [{"status": "skipped", "reason": outcome.diagnostics} if isinstance(outcome, NotFound | Gone)
                else {"status": "assessed", **assessment_result(outcome)} for outcome in outcomes]

    async def read_documents(self, job: Job) -> DocumentRead:
        """The extract job's `prepare` step: read the version's documents, outside any transaction."""
        payload = job.payload
        read = DocumentRead(self.pipeline.context())
        try:
            version = await self.pipeline.resources.read(read.ctx, str(payload["type"]), str(payload["id"]))
        except (NotFound, Gone) as exc:
            read.result = {"status": "skipped", "reason": exc.diagnostics}
            return read
        if version.version_id != payload.get("version", version.version_id):
            read.result = _superseded(version.res_type, version.res_id, version.version_id)
            return read
        read.resource, read.version_id = fhir_json.loads(version.body or b"{}"), version.version_id
        read.readings = await self.pipeline.read_documents(read.ctx, read.resource)
        for reading in read.readings:
            if isinstance(reading.report.error, OcrUnavailable):
                raise PermanentJobError(f"OCR is not available: {reading.report.error.diagnostics}")
        return read

    async def file_results(self, job: Job, tx: Tx, read: DocumentRead) -> dict[str, Any]:
        """The extract job's write step: the Observations and the assessment, in the job's transaction."""
        if read.result is not None:
            return read.result
        res_type, res_id = read.resource["resourceType"], read.resource["id"]
        try:
            current = await self.pipeline.resources.read_in(tx, read.ctx, res_type, res_id)
            if current.version_id != read.version_id:  # written again while this job read the documents
                return _superseded(res_type, res_id, current.version_id)
            extraction = await self.pipeline.extract_in(tx, read.ctx, read.resource, read.readings)
        except (NotFound, Gone) as exc:
            return {"status": "skipped", "reason": exc.diagnostics}
        await self._audit(tx, read.ctx.audit)
        return extraction_result(extraction)

    async def _audit(self, tx: Tx, events: list[dict[str, Any]]) -> None:
        if self.audit is not None and events:
            await self.audit.record_in(tx, events)


def _superseded(res_type: str, res_id: str, version_id: int) -> dict[str, Any]:
    return {"status": "superseded",
            "reason": f"{res_type}/{res_id} has a newer version ({version_id}), read by its own job"}
