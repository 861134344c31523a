"""Who the pipeline is when it writes: its system principal and the Device that stands for it.

The pipeline reads and writes through the service layer under `PIPELINE_PRINCIPAL`, a system
principal with narrow scopes (it reads what the rules and documents need, and writes only what it
makes), so its writes are validated, authorized, versioned, indexed and audited like any client's.
Its RiskAssessments, Observations and Provenance name `Device/ai-pipeline` as their performer; that
Device lists the versions of the pipeline, spaCy and Tesseract that produced them.
"""

from __future__ import annotations

import contextlib
import copy
from functools import cache
from typing import Any

import spacy

from ai_pipeline.errors import PipelineError
from ai_pipeline.fhir_output import pipeline_device
from ai_pipeline.tesseract import tesseract_version
from fhir_server.context import Principal

__all__ = ["PIPELINE_PRINCIPAL", "DEVICE_ID", "DEVICE_REFERENCE", "device"]

_READS = ("Patient", "Encounter", "DocumentReference", "DiagnosticReport", "Binary")
_WRITES = ("Observation", "RiskAssessment", "Provenance", "Device")
PIPELINE_PRINCIPAL = Principal(
    subject="ai-pipeline", role="system", client_id="ai-pipeline",
    scopes=frozenset({*(f"system/{t}.rs" for t in _READS), *(f"system/{t}.cruds" for t in _WRITES)}),
)
DEVICE_ID = "ai-pipeline"
DEVICE_REFERENCE = f"Device/{DEVICE_ID}"


def device(tesseract_cmd: str = "tesseract") -> dict[str, Any]:
    """The pipeline's Device with the versions of its parts (Tesseract only when it is installed)."""
    return copy.deepcopy(_device(tesseract_cmd))


@cache
def _device(tesseract_cmd: str) -> dict[str, Any]:
    from ai_pipeline import __version__

    components = {"spaCy": spacy.__version__}
    # without Tesseract, structured results are still assessed; OCR reports the missing binary itself
    with contextlib.suppress(PipelineError):
        components["Tesseract OCR"] = tesseract_version(tesseract_cmd)
    return pipeline_device(software_version=__version__, components=components, device_id=DEVICE_ID)
