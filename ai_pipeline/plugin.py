"""The pipeline plugged into a server runtime (the `fhir_server.plugins` entry point).

Adds the change subscriber that queues its jobs in the write's transaction (`triggers`), the two job
handlers (`jobs`) and the `$assess-risk` and `$extract` operations, so `fhir-server serve`, `worker`
and `all` all have them, and the core never imports the pipeline. A server without Tesseract starts
(structured results are still assessed) but says so at start; scanned documents then fail with the
same reason. The limits on reading a document come from the settings (`FHIR_AI_OCR_*`), and bulk
loads queue nothing unless `FHIR_AI_PIPELINE_ON_BULK_IMPORT` is on.
"""

from __future__ import annotations

import logging

from ai_pipeline import assess_risk, extract
from ai_pipeline.document import OcrSettings
from ai_pipeline.errors import PipelineError
from ai_pipeline.jobs import ASSESS_BATCH, PipelineJobs
from ai_pipeline.pipeline import Pipeline
from ai_pipeline.tesseract import tesseract_version
from ai_pipeline.triggers import ASSESS, EXTRACT, Triggers
from fhir_server.bootstrap import Runtime
from fhir_server.config import Settings
from fhir_server.jobs import BatchHandler

__all__ = ["plugin", "ocr_settings"]

log = logging.getLogger("ai_pipeline")


def ocr_settings(settings: Settings) -> OcrSettings:
    """The document-reading limits from the server's settings (`FHIR_AI_OCR_*`)."""
    return OcrSettings(max_bytes=settings.ai_ocr_max_bytes, max_pages=settings.ai_ocr_max_pages,
                       max_page_pixels=settings.ai_ocr_max_page_pixels,
                       page_timeout_seconds=settings.ai_ocr_page_timeout_seconds,
                       document_timeout_seconds=settings.ai_ocr_document_timeout_seconds)


def plugin(runtime: Runtime) -> None:
    services, settings = runtime.services, runtime.settings
    pipeline = Pipeline(resources=services.resources, search=services.search,
                        base_url=settings.base_url or f"http://{settings.host}:{settings.port}/fhir",
                        ocr=ocr_settings(settings))
    triggers = Triggers(runtime.jobs, on_bulk_load=settings.ai_pipeline_on_bulk_import)
    services.resources.subscribe(triggers.on_change)
    jobs = PipelineJobs(pipeline, runtime.audit)
    runtime.job_handlers[ASSESS] = BatchHandler(jobs.assess_many, size=ASSESS_BATCH)
    runtime.job_handlers[EXTRACT] = jobs.extract
    services.operations.register(assess_risk.DEFINITION, assess_risk.AssessRiskOperation(pipeline))
    services.operations.register(extract.DEFINITION, extract.ExtractOperation(pipeline))
    try:
        tesseract_version(pipeline.ocr.tesseract_cmd)
    except PipelineError as exc:
        log.warning("AI pipeline: %s; scanned documents cannot be read until it is", exc.diagnostics)
