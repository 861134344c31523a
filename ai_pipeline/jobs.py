"""The pipeline's job handlers, run by `fhir-server worker` (and `all`) in the job's own transaction.

- `ai-pipeline.assess` {patient, encounter, source}: the rules over the patient's record; the
  RiskAssessments, the Device and the Provenance commit with the job's completion.
- `ai-pipeline.extract` {type, id, version}: read that version's scanned attachments, write the
  extracted Observations and the patient's assessment. A newer version has its own job, so an older
  one is skipped as `superseded`.

Bad input never blocks the queue: an unreadable, empty, oversized or non-lab document ends as a done
job whose result gives the reason (nothing is written). A missing Tesseract or poppler is an
installation problem, not the document's: the job fails with that reason for an operator to see.
The reads the job made are audited in its transaction.
"""

from __future__ import annotations

from typing import Any

from ai_pipeline.errors import OcrUnavailable
from ai_pipeline.pipeline import Assessment, Extraction, Pipeline
from fhir_server.errors import Gone, NotFound
from fhir_server.jobs import Job, PermanentJobError
from fhir_server.services.access import AuditLog
from fhir_server.storage.repository import Tx
from resources import fhir_json

__all__ = ["PipelineJobs", "assessment_result", "extraction_result"]


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

    async def assess(self, job: Job, tx: Tx) -> dict[str, Any]:
        payload = job.payload
        ctx = self.pipeline.context()
        try:
            assessment = await self.pipeline.assess_in(tx, ctx, str(payload["patient"]),
                                                       encounter=payload.get("encounter"),
                                                       sources=[payload["source"]] if payload.get("source") else [])
        except (NotFound, Gone) as exc:
            return {"status": "skipped", "reason": exc.diagnostics}
        await self._audit(tx, ctx.audit)
        return {"status": "assessed", **assessment_result(assessment)}

    async def extract(self, job: Job, tx: Tx) -> dict[str, Any]:
        payload = job.payload
        ctx = self.pipeline.context()
        try:
            version = await self.pipeline.resources.read(ctx, str(payload["type"]), str(payload["id"]))
        except (NotFound, Gone) as exc:
            return {"status": "skipped", "reason": exc.diagnostics}
        if version.version_id != payload.get("version", version.version_id):
            return {"status": "superseded", "reason": f"{version.res_type}/{version.res_id} has a newer version "
                                                      f"({version.version_id}), read by its own job"}
        resource = fhir_json.loads(version.body or b"{}")
        readings = await self.pipeline.read_documents(ctx, resource)
        for reading in readings:
            if isinstance(reading.report.error, OcrUnavailable):
                raise PermanentJobError(f"OCR is not available: {reading.report.error.diagnostics}")
        try:
            extraction = await self.pipeline.extract_in(tx, ctx, resource, readings)
        except (NotFound, Gone) as exc:
            return {"status": "skipped", "reason": exc.diagnostics}
        await self._audit(tx, ctx.audit)
        return extraction_result(extraction)

    async def _audit(self, tx: Tx, events: list[dict[str, Any]]) -> None:
        if self.audit is not None and events:
            await self.audit.record_in(tx, events)
