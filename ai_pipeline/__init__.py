"""The AI pipeline: lab reports in, FHIR Observations and RiskAssessments (with Provenance) out.

    from ai_pipeline import read_lab_report, evaluate, risk_assessment

    reading = read_lab_report(pdf_or_image_bytes)              # OCR (Tesseract) or PDF text layer + NLP
    results = evaluate(observations, Demographics(age_years=67, sex="female"))
    resource = risk_assessment(finding, subject="Patient/1", occurrence=now, performer="Device/ai")

Framework-free and database-free: the service integration (storing the resources, triggers, jobs)
lives elsewhere and calls these. Modules: `ocr` (+ `images`, `pdf`, `tesseract`, `document`), `nlp/`
(spaCy rule pipeline over a shipped LOINC lexicon), `rules/` (cited clinical rules), `fhir_output`
(resource builders), `report` (the never-raising entry point), `units`, `errors`.
"""

from ai_pipeline.document import DocumentText, OcrSettings, PageText, Word
from ai_pipeline.errors import (
    DocumentTooLarge,
    EmptyDocument,
    OcrFailed,
    OcrUnavailable,
    PipelineError,
    UnreadableDocument,
)
from ai_pipeline.fhir_output import lab_observation, pipeline_device, provenance, risk_assessment
from ai_pipeline.nlp import ConditionMention, LabExtraction, LabExtractor, LabResult
from ai_pipeline.ocr import media_type, read_document
from ai_pipeline.report import ReportReading, observed_from_lab_result, read_lab_report
from ai_pipeline.rules import (
    RULES,
    Demographics,
    Finding,
    NotEvaluated,
    Observed,
    evaluate,
    observed_from_fhir,
)
from ai_pipeline.tesseract import tesseract_version

__version__ = "0.1.0"

__all__ = [
    "read_document", "media_type", "read_lab_report", "ReportReading", "observed_from_lab_result",
    "OcrSettings", "DocumentText", "PageText", "Word",
    "PipelineError", "UnreadableDocument", "EmptyDocument", "DocumentTooLarge", "OcrUnavailable", "OcrFailed",
    "LabExtractor", "LabExtraction", "LabResult", "ConditionMention",
    "Demographics", "Observed", "Finding", "NotEvaluated", "RULES", "evaluate", "observed_from_fhir",
    "risk_assessment", "provenance", "pipeline_device", "lab_observation", "tesseract_version", "__version__",
]
