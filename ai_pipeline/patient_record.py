"""What the rules know of one patient: demographics from the Patient, values from their Observations.

Read through the service layer (a read and one search, audited like any client's) under the caller's
context, which for jobs is the pipeline's principal. The search takes the patient's latest
`MAX_OBSERVATIONS` Observations by date; the rules only ever use the latest values and, for AKI, those
of the last week. Observations written in the caller's own transaction (just extracted from a
document) are not committed yet, so the caller passes them as `written`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from ai_pipeline.rules import Demographics, Observed, observed_from_fhir
from fhir_server.context import RequestContext
from fhir_server.services import ResourceService, SearchRequest, SearchService
from resources import fhir_json

__all__ = ["PatientRecord", "load_record", "demographics", "MAX_OBSERVATIONS"]

MAX_OBSERVATIONS = 1000


@dataclass(frozen=True, slots=True)
class PatientRecord:
    patient_id: str
    demographics: Demographics
    observations: tuple[Observed, ...]


def demographics(patient: dict[str, Any], *, on: date) -> Demographics:
    """Age from a full `birthDate` and sex from `gender` (female/male); anything else stays unknown."""
    gender = patient.get("gender")
    sex = gender if gender in ("female", "male") else None
    birth = patient.get("birthDate")
    if isinstance(birth, str) and len(birth) == 10:
        try:
            return Demographics.from_birth_date(date.fromisoformat(birth), on=on, sex=sex)
        except ValueError:
            pass
    return Demographics(sex=sex)


async def load_record(resources: ResourceService, search: SearchService, ctx: RequestContext, patient_id: str, *,
                      on: date, written: Sequence[dict[str, Any]] = ()) -> PatientRecord:
    """The patient's demographics and observations; NotFound or Gone when the Patient is not there."""
    patient = fhir_json.loads((await resources.read(ctx, "Patient", patient_id)).body or b"{}")
    bundle = fhir_json.loads(await search.search(ctx, SearchRequest("Observation", [
        ("subject", f"Patient/{patient_id}"), ("_sort", "-date"), ("_count", str(MAX_OBSERVATIONS))])))
    fresh = {resource["id"]: resource for resource in written}
    stored = [entry["resource"] for entry in bundle.get("entry", []) if entry.get("resource", {}).get("id") not in fresh]
    observed = [o for resource in [*stored, *fresh.values()] for o in observed_from_fhir(resource)]
    return PatientRecord(patient_id, demographics(patient, on=on), tuple(observed))
