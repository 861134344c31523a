"""What mortality analytics reads from an Encounter, a Patient and a Condition (pure functions).

Encounter (https://hl7.org/fhir/R4/encounter.html):

- inpatient: `class` is IMP (v3-ActCode) and `status` is neither `cancelled` nor `entered-in-error`;
- discharge: the end of `period` (an encounter without an end has not been discharged);
- expired: `hospitalization.dischargeDisposition` has the code `exp`
  (http://terminology.hl7.org/CodeSystem/discharge-disposition);
- attending: the `individual` of the last `participant` of type ATND (v3-ParticipationType), the
  physician responsible at discharge;
- department: `serviceProvider`; location: the last `location` that was not only planned;
- principal condition: the `diagnosis` ranked 1 (else the first listed); its Condition's first
  `code.coding`, else the encounter's first `reasonCode` coding.

Patient: `deceasedDateTime` as an inclusive range (a death date covers its whole day); a bare
`deceasedBoolean` carries no date, so only the disposition can place such a death in a stay.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fhir_server.search.dates import parse_date_range

__all__ = ["EncounterFacts", "Coded", "encounter_facts", "death_range", "principal_code", "local_reference"]

ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
DISPOSITION = "http://terminology.hl7.org/CodeSystem/discharge-disposition"
EXCLUDED_STATUS = frozenset({"cancelled", "entered-in-error"})


@dataclass(frozen=True, slots=True)
class Coded:
    system: str | None
    code: str
    display: str | None


@dataclass(frozen=True, slots=True)
class EncounterFacts:
    res_id: str
    inpatient: bool
    period_start: int | None
    period_end: int | None
    discharge_month: int | None
    expired: bool
    patient_id: str | None
    attending: str | None
    department: str | None
    location: str | None
    condition_id: str | None
    reason: Coded | None


def local_reference(value: Any, types: tuple[str, ...] | None = None) -> tuple[str, str] | None:
    """(type, id) of a Reference to a resource on this server (`Type/id`, or an absolute URL
    ending in it); None for contained, logical or unparseable references."""
    if not isinstance(value, dict) or not isinstance(value.get("reference"), str):
        return None
    parts = value["reference"].split("/_history/")[0].rstrip("/").split("/")
    if len(parts) < 2 or not parts[-2][:1].isupper() or not parts[-1]:
        return None
    res_type, res_id = parts[-2], parts[-1]
    if types is not None and res_type not in types:
        return None
    return res_type, res_id


def _codings(concept: Any) -> list[dict[str, Any]]:
    """The codings of a CodeableConcept, or a Coding itself."""
    if not isinstance(concept, dict):
        return []
    if "coding" not in concept and "code" in concept:
        return [concept]
    return [c for c in concept.get("coding") or () if isinstance(c, dict)]


def _has_code(concept: Any, code: str, system: str) -> bool:
    return any(c.get("code") == code and c.get("system") in (None, system) for c in _codings(concept))


def _first_coded(concept: Any) -> Coded | None:
    for coding in _codings(concept):
        if isinstance(coding.get("code"), str) and coding["code"]:
            display = coding.get("display") if isinstance(coding.get("display"), str) else None
            system = coding.get("system") if isinstance(coding.get("system"), str) else None
            return Coded(system, coding["code"][:255], display[:255] if display else None)
    return None


def _range(text: Any, *, high: bool) -> int | None:
    if not isinstance(text, str):
        return None
    try:
        low_value, high_value = parse_date_range(text)
    except ValueError:
        return None
    return high_value if high else low_value


def _month(micros: int) -> int:
    moment = datetime.fromtimestamp(micros / 1_000_000, UTC)
    return moment.year * 100 + moment.month


def _reference_text(value: Any) -> str | None:
    found = local_reference(value)
    return f"{found[0]}/{found[1]}"[:140] if found else None


def _attending(encounter: dict[str, Any]) -> str | None:
    chosen = None
    for participant in encounter.get("participant") or ():
        if isinstance(participant, dict) and any(
                _has_code(kind, "ATND", PARTICIPATION) for kind in participant.get("type") or ()):
            chosen = _reference_text(participant.get("individual")) or chosen
    return chosen


def _location(encounter: dict[str, Any]) -> str | None:
    chosen = None
    for entry in encounter.get("location") or ():
        if isinstance(entry, dict) and entry.get("status") != "planned":
            chosen = _reference_text(entry.get("location")) or chosen
    return chosen


def _principal_condition(encounter: dict[str, Any]) -> str | None:
    diagnoses = [d for d in encounter.get("diagnosis") or () if isinstance(d, dict)]
    ranked = [d for d in diagnoses if d.get("rank") == 1] or diagnoses[:1]
    for diagnosis in ranked:
        found = local_reference(diagnosis.get("condition"), ("Condition",))
        if found:
            return found[1]
    return None


def encounter_facts(encounter: dict[str, Any]) -> EncounterFacts:
    status = encounter.get("status")
    inpatient = _has_code(encounter.get("class"), "IMP", ACT_CODE) and status not in EXCLUDED_STATUS
    period = encounter.get("period") if isinstance(encounter.get("period"), dict) else {}
    start, end = _range(period.get("start"), high=False), _range(period.get("end"), high=True)
    hospitalization = encounter.get("hospitalization") if isinstance(encounter.get("hospitalization"), dict) else {}
    patient = local_reference(encounter.get("subject"), ("Patient",))
    reasons = [r for r in encounter.get("reasonCode") or () if isinstance(r, dict)]
    return EncounterFacts(
        res_id=str(encounter.get("id", "")),
        inpatient=inpatient,
        period_start=start,
        period_end=end,
        discharge_month=_month(end) if end is not None and 0 <= end < 253402300800_000_000 else None,
        expired=_has_code(hospitalization.get("dischargeDisposition"), "exp", DISPOSITION),
        patient_id=patient[1] if patient else None,
        attending=_attending(encounter),
        department=_reference_text(encounter.get("serviceProvider")),
        location=_location(encounter),
        condition_id=_principal_condition(encounter),
        reason=_first_coded(reasons[0]) if reasons else None,
    )


def death_range(patient: dict[str, Any] | None) -> tuple[int | None, int | None]:
    """The inclusive range `Patient.deceasedDateTime` covers; (None, None) without a date."""
    if patient is None:
        return None, None
    text = patient.get("deceasedDateTime")
    return _range(text, high=False), _range(text, high=True)


def principal_code(condition: dict[str, Any] | None) -> Coded | None:
    """The Condition's first coding: the code a stay is stratified by."""
    return None if condition is None else _first_coded(condition.get("code"))
