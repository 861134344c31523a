"""FHIR R4 resources the pipeline writes: RiskAssessment, Provenance, the pipeline's Device, Observations.

Every builder returns a plain dict in the shape `resources.fhir_json.loads` produces (decimals as
`Decimal`, never float), ready for `resources.validate` and the service layer. What they encode:

- `risk_assessment(finding, …)` — RiskAssessment (https://hl7.org/fhir/R4/riskassessment.html):
  status `preliminary` (a suggestion, not a clinician's assessment), `method` = the rule as a
  CodeableConcept, `basis` = the Observations the rule used, one `prediction` per outcome with
  SNOMED CT and ICD-10 codes, `probabilityDecimal` and/or `qualitativeRisk` (risk-probability code
  system), `whenRange` for horizons (KFRE 2 and 5 years), the rationale, the device as `performer`,
  and a note saying it is decision support for clinician review;
- `provenance(…)` — Provenance with the pipeline Device as the performing agent and the sources
  (document, observations) as entities;
- `pipeline_device(…)` — the Device that stands for the pipeline, with its software versions;
- `lab_observation(result, …)` — an extracted lab value as an Observation: status `preliminary`,
  LOINC code, the value's exact digits, UCUM unit, interpretation flag (v3 ObservationInterpretation),
  reference range, `derivedFrom` the source DocumentReference, `method` = automated extraction.

All AI-made resources carry the security label AIAST ("artificial intelligence asserted", HL7
v3-ObservationValue) in `meta.security`. A FHIR dateTime with a time needs a zone, so naive times are
written with the `timezone` given, or as a date alone when none is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import Any

from ai_pipeline.nlp.extraction import LabResult
from ai_pipeline.nlp.lexicon import ICD10_SYSTEM, LOINC_SYSTEM, SNOMED_SYSTEM
from ai_pipeline.rules.model import Finding, Observed, Outcome, Prediction
from ai_pipeline.units import UCUM_SYSTEM

__all__ = [
    "risk_assessment", "provenance", "pipeline_device", "lab_observation", "RULE_SYSTEM", "METHOD_SYSTEM",
    "AI_ASSERTED",
]

RULE_SYSTEM = "urn:fhir-server:ai-pipeline:rules"
METHOD_SYSTEM = "urn:fhir-server:ai-pipeline:methods"
RISK_PROBABILITY = "http://terminology.hl7.org/CodeSystem/risk-probability"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
AI_ASSERTED = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "AIAST",
               "display": "artificial intelligence asserted"}
REVIEW_NOTE = ("Decision-support suggestion generated automatically by the AI pipeline from the cited "
               "observations; it is not a diagnosis and must be reviewed by a clinician before any use.")

_RISK_DISPLAY = {"negligible": "Negligible likelihood", "low": "Low likelihood",
                 "moderate": "Moderate likelihood", "high": "High likelihood", "certain": "Certain"}
_FLAG_DISPLAY = {"H": "High", "L": "Low", "HH": "Critical high", "LL": "Critical low", "A": "Abnormal",
                 "N": "Normal"}


def _reference(target: str, display: str | None = None) -> dict[str, Any]:
    reference: dict[str, Any] = {"reference": target}
    if display:
        reference["display"] = display
    return reference


def _instant(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("a FHIR instant needs a time zone: pass an aware datetime")
    return moment.isoformat(timespec="seconds")


def _date_time(moment: datetime | date, timezone: tzinfo | None) -> str:
    """A FHIR dateTime: with its zone, with `timezone` added when naive, or the date alone."""
    if isinstance(moment, datetime):
        if moment.tzinfo is not None:
            return moment.isoformat(timespec="seconds")
        if timezone is not None:
            return moment.replace(tzinfo=timezone).isoformat(timespec="seconds")
        return moment.date().isoformat()
    return moment.isoformat()


def _outcome(outcome: Outcome) -> dict[str, Any]:
    codings = []
    if outcome.snomed:
        codings.append({"system": SNOMED_SYSTEM, "code": outcome.snomed, "display": outcome.snomed_display})
    if outcome.icd10:
        codings.append({"system": ICD10_SYSTEM, "code": outcome.icd10, "display": outcome.icd10_display})
    concept: dict[str, Any] = {"text": outcome.text}
    if codings:
        concept["coding"] = [{k: v for k, v in c.items() if v} for c in codings]
    return concept


def _prediction(prediction: Prediction) -> dict[str, Any]:
    out: dict[str, Any] = {"outcome": _outcome(prediction.outcome)}
    if prediction.probability is not None:
        out["probabilityDecimal"] = prediction.probability
    if prediction.risk is not None:
        concept: dict[str, Any] = {"coding": [{"system": RISK_PROBABILITY, "code": prediction.risk,
                                               "display": _RISK_DISPLAY[prediction.risk]}]}
        if prediction.risk_text:
            concept["text"] = prediction.risk_text
        out["qualitativeRisk"] = concept
    if prediction.within_years is not None:
        out["whenRange"] = {"high": {"value": Decimal(prediction.within_years), "unit": "years",
                                     "system": UCUM_SYSTEM, "code": "a"}}
    if prediction.rationale:
        out["rationale"] = prediction.rationale
    return out


def _basis(observed: Observed) -> dict[str, Any]:
    if observed.reference:
        return _reference(observed.reference, observed.describe())
    return {"display": observed.describe()}


def risk_assessment(finding: Finding, *, subject: str, occurrence: datetime, encounter: str | None = None,
                    performer: str | None = None, condition: str | None = None) -> dict[str, Any]:
    """A preliminary RiskAssessment for one finding; `subject`, `encounter`, `performer` are references."""
    rule = finding.rule
    resource: dict[str, Any] = {
        "resourceType": "RiskAssessment",
        "meta": {"security": [dict(AI_ASSERTED)]},
        "status": "preliminary",
        "method": {"coding": [{"system": RULE_SYSTEM, "code": rule.id, "display": rule.title}],
                   "text": f"{rule.guideline} ({rule.version})"},
        "subject": _reference(subject),
        "occurrenceDateTime": _instant(occurrence),
    }
    if encounter:
        resource["encounter"] = _reference(encounter)
    if condition:
        resource["condition"] = _reference(condition)
    if performer:
        resource["performer"] = _reference(performer)
    if finding.basis:
        resource["basis"] = [_basis(o) for o in finding.basis]
    resource["prediction"] = [_prediction(p) for p in finding.predictions]
    resource["note"] = [{"time": _instant(occurrence), "text": f"{REVIEW_NOTE} Rule: {rule.title}. {finding.rationale} "
                         f"Source: {rule.citation}"}]
    return resource


def provenance(targets: Sequence[str], *, recorded: datetime, device: str, sources: Sequence[str] = (),
               reason: str | None = None) -> dict[str, Any]:
    """A Provenance naming the pipeline Device as performer of the creation of `targets` from `sources`."""
    if not targets:
        raise ValueError("a Provenance needs at least one target")
    resource: dict[str, Any] = {
        "resourceType": "Provenance",
        "target": [_reference(t) for t in targets],
        "recorded": _instant(recorded),
        "activity": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-DataOperation",
                                 "code": "CREATE", "display": "create"}]},
        "agent": [{
            "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                                 "code": "performer", "display": "Performer"}]},
            "who": _reference(device),
        }],
    }
    if reason:
        resource["reason"] = [{"text": reason}]
    if sources:
        resource["entity"] = [{"role": "source", "what": _reference(s)} for s in sources]
    return resource


def pipeline_device(*, software_version: str, components: Mapping[str, str] | None = None,
                    device_id: str | None = None, name: str = "fhir-server AI pipeline") -> dict[str, Any]:
    """The Device standing for the pipeline: its name and versions (pipeline, OCR engine, NLP library…)."""
    versions = [{"type": {"text": "software"}, "value": software_version}]
    versions += [{"type": {"text": label}, "value": value} for label, value in (components or {}).items()]
    resource: dict[str, Any] = {
        "resourceType": "Device",
        "status": "active",
        "deviceName": [{"name": name, "type": "user-friendly-name"}],
        "type": {"text": "Clinical decision support software (OCR, NLP and rule-based risk assessment)"},
        "version": versions,
    }
    if device_id:
        resource["id"] = device_id
    return resource


def _quantity(value: str, unit: str | None, unit_text: str | None) -> dict[str, Any]:
    quantity: dict[str, Any] = {"value": Decimal(value)}
    if unit_text or unit:
        quantity["unit"] = unit_text or unit
    if unit:
        quantity["system"] = UCUM_SYSTEM
        quantity["code"] = unit
    return quantity


def lab_observation(result: LabResult, *, subject: str, document: str, encounter: str | None = None,
                    timezone: tzinfo | None = None, issued: datetime | None = None) -> dict[str, Any]:
    """A preliminary Observation for one extracted lab value, derived from the `document` reference."""
    value = _quantity(result.value, result.unit, result.unit_text)
    if result.comparator:
        value["comparator"] = result.comparator
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "meta": {"security": [dict(AI_ASSERTED)]},
        "status": "preliminary",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": "laboratory", "display": "Laboratory"}]}],
        "code": {"coding": [{"system": LOINC_SYSTEM, "code": result.loinc, "display": result.loinc_display}],
                 "text": result.label},
        "subject": _reference(subject),
    }
    if encounter:
        resource["encounter"] = _reference(encounter)
    if result.collected is not None:
        resource["effectiveDateTime"] = _date_time(result.collected, timezone)
    if issued is not None:
        resource["issued"] = _instant(issued)
    resource["valueQuantity"] = value
    if result.flag is not None:
        interpretation: dict[str, Any] = {"coding": [{"system": INTERPRETATION, "code": result.flag,
                                                      "display": _FLAG_DISPLAY[result.flag]}]}
        if result.flag_derived:
            interpretation["text"] = "derived from the printed reference range"
        resource["interpretation"] = [interpretation]
    note = f"Extracted automatically from page {result.page} of the document; OCR confidence {result.confidence:.0f}."
    if result.needs_review:
        note += " Needs review: " + "; ".join(result.review_reasons) + "."
    resource["note"] = [{"text": note}]
    resource["method"] = {"coding": [{"system": METHOD_SYSTEM, "code": "automated-extraction",
                                      "display": "Automated extraction from a document (OCR and NLP)"}],
                          "text": "Automated extraction from a document; not verified by a person"}
    if result.specimen:
        resource["specimen"] = {"display": result.specimen}
    reference_range = _reference_range(result)
    if reference_range:
        resource["referenceRange"] = [reference_range]
    resource["derivedFrom"] = [_reference(document)]
    return resource


def _reference_range(result: LabResult) -> dict[str, Any] | None:
    bounds: dict[str, Any] = {}
    for key, text in (("low", result.reference_low), ("high", result.reference_high)):
        if text is not None:
            bounds[key] = _quantity(text, result.unit, result.unit_text)
    if result.reference_text:
        bounds["text"] = result.reference_text
    return bounds or None
