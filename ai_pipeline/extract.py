"""`POST [base]/DocumentReference/[id]/$extract`: read a scanned lab report now and file its results.

The document's scanned attachments (PNG, JPEG, TIFF or PDF, inline or in a Binary) are read with the
PDF text layer or Tesseract OCR outside any transaction, then the extracted results are written as
preliminary Observations and the patient is assessed, exactly as the background job does. The caller
must be allowed to run the operation and to read the DocumentReference; the writes are the pipeline's.

Errors are the caller's to see: no scanned attachment is a 400, a document that cannot be read (or
that holds no lab results, or names no patient) a 422, one over the size caps a 413, a server
without Tesseract a 503; nothing is written then.
"""

from __future__ import annotations

from typing import Any

from ai_pipeline.attachments import scanned_attachments
from ai_pipeline.errors import PipelineError
from ai_pipeline.pipeline import Pipeline
from fhir_server.context import RequestContext
from fhir_server.errors import BadRequest, Issue, operation_outcome
from fhir_server.operations.registry import OperationCall, OperationResult
from resources import fhir_json

__all__ = ["DEFINITION", "ExtractOperation"]

DEFINITION: dict[str, Any] = {
    "resourceType": "OperationDefinition",
    "id": "DocumentReference-extract",
    "url": "https://fhir-server.dev/fhir/OperationDefinition/DocumentReference-extract",
    "name": "Extract",
    "title": "Extract the lab results of a scanned report",
    "status": "active",
    "kind": "operation",
    "code": "extract",
    "resource": ["DocumentReference"],
    "system": False,
    "type": False,
    "instance": True,
    "affectsState": True,
    "description": "Reads the document's scanned attachments (PDF text layer, or Tesseract OCR for images "
                   "and image-only PDFs), extracts each lab result (test, LOINC code, value, UCUM unit, "
                   "reference range, flag) as a preliminary Observation derived from the document, and "
                   "assesses the patient with the clinical rules; a Provenance records it.",
    "parameter": [
        {"name": "observation", "use": "out", "min": 0, "max": "*", "type": "Observation",
         "documentation": "The Observations extracted from the document"},
        {"name": "assessment", "use": "out", "min": 0, "max": "*", "type": "RiskAssessment",
         "documentation": "The patient's current RiskAssessments after the extraction"},
        {"name": "outcome", "use": "out", "min": 1, "max": "1", "type": "OperationOutcome",
         "documentation": "How each attachment read, and what was written"},
    ],
}


class ExtractOperation:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    async def __call__(self, ctx: RequestContext, call: OperationCall) -> OperationResult:
        if call.res_id is None:
            raise BadRequest("$extract applies to a DocumentReference instance: DocumentReference/[id]/$extract")
        resources = self.pipeline.resources
        version = await resources.read(ctx, "DocumentReference", call.res_id)
        resource = fhir_json.loads(version.body or b"{}")
        if not scanned_attachments(resource):
            raise BadRequest(f"DocumentReference/{call.res_id} has no scanned image (PNG, JPEG, TIFF) or PDF "
                             "attachment to read", code="not-supported")
        work = self.pipeline.context()
        readings = await self.pipeline.read_documents(work, resource)
        if not any(reading.report.status == "extracted" for reading in readings):
            await resources.access.flush(work)
            errors = [reading.report.error for reading in readings if reading.report.error is not None]
            if errors:
                raise errors[0]
            raise PipelineError(f"DocumentReference/{call.res_id}: no lab results were found in the document")
        extraction = await resources.run_in_transaction(
            lambda tx: self.pipeline.extract_in(tx, work, resource, readings))
        await resources.access.flush(work)
        if extraction.reason is not None:
            raise PipelineError(extraction.reason)
        issues = [Issue("informational", f"{r.scanned.path}: {r.report.status}: {r.report.message}",
                        severity="information" if r.report.status == "extracted" else "warning")
                  for r in readings]
        issues.append(Issue("informational", f"{len(extraction.written.targets)} resource version(s) written, "
                            f"{len(extraction.written.unchanged)} unchanged, {len(extraction.written.removed)} "
                            "removed", severity="information"))
        parameters = [{"name": "observation", "resource": o} for o in extraction.observations]
        if extraction.assessment is not None:
            parameters += [{"name": "assessment", "resource": a} for a in extraction.assessment.assessments]
        parameters.append({"name": "outcome", "resource": operation_outcome(issues)})
        return OperationResult({"resourceType": "Parameters", "parameter": parameters})
