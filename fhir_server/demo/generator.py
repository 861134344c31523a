"""A deterministic demo hospital: the same seed gives the same resources, byte for byte.

    counts = generate(Path("data/demo"), patients=120, seed=7)

Writes one NDJSON file per resource type (numbered so organisations and practitioners load first),
streaming: memory stays flat however many patients. Each patient has one to five encounters —
outpatient visits and inpatient stays in a department, some ending in death (discharge disposition
`exp`, with the patient's `deceasedDateTime`) — each with vital signs, and most with laboratory
panels (LOINC, UCUM, reference ranges, interpretations) summarised in a DiagnosticReport.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from fhir_server.demo.catalog import (
    BLOOD_PRESSURE,
    CITIES,
    DEPARTMENTS,
    FAMILY,
    GIVEN_FEMALE,
    GIVEN_MALE,
    LOINC,
    PANELS,
    SNOMED,
    STREETS,
    UCUM,
    VITALS,
    Department,
    Measure,
)

__all__ = ["generate", "FILES"]

FILES = ("01-Organization", "02-Practitioner", "03-PractitionerRole", "04-Patient", "05-Encounter",
         "06-Condition", "07-Observation", "08-DiagnosticReport")
ANCHOR = datetime(2026, 1, 1, tzinfo=UTC)  # "today" of the data set: fixed, so the output is too
MRN = "http://hospital.example.org/mrn"
NPI = "http://hl7.org/fhir/sid/us-npi"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
DISPOSITION = "http://terminology.hl7.org/CodeSystem/discharge-disposition"
PRACTITIONERS_PER_DEPARTMENT = 4


def _instant(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _concept(system: str, code: str, display: str, text: str | None = None) -> dict[str, Any]:
    concept: dict[str, Any] = {"coding": [{"system": system, "code": code, "display": display}]}
    if text:
        concept["text"] = text
    return concept


class _Hospital:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def new_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def value(self, measure: Measure) -> float | int:
        low, high = measure.spread
        # mostly within the reference range, sometimes outside it
        if measure.high > measure.low and self.rng.random() < 0.75:
            low, high = measure.low, measure.high
        drawn = self.rng.uniform(low, high)
        return round(drawn, measure.decimals) if measure.decimals else int(round(drawn))

    # -- staff ---------------------------------------------------------------------------------

    def organisations(self) -> tuple[dict[str, Any], list[tuple[Department, dict[str, Any]]]]:
        hospital = {"resourceType": "Organization", "id": self.new_id(), "active": True,
                    "identifier": [{"system": "http://hospital.example.org/org", "value": "SEGH"}],
                    "type": [_concept("http://terminology.hl7.org/CodeSystem/organization-type", "prov",
                                      "Healthcare Provider")],
                    "name": "St Example General Hospital",
                    "address": [{"line": ["1 Infirmary Street"], "city": "Leeds", "postalCode": "LS1 3EX",
                                 "country": "GB"}]}
        departments = []
        for department in DEPARTMENTS:
            departments.append((department, {
                "resourceType": "Organization", "id": self.new_id(), "active": True,
                "identifier": [{"system": "http://hospital.example.org/department", "value": department.code}],
                "type": [_concept("http://terminology.hl7.org/CodeSystem/organization-type", "dept",
                                  "Hospital Department")],
                "name": department.name, "partOf": {"reference": f"Organization/{hospital['id']}",
                                                    "display": hospital["name"]}}))
        return hospital, departments

    def practitioner(self, department: Department, organisation: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        female = self.rng.random() < 0.5
        given = self.rng.choice(GIVEN_FEMALE if female else GIVEN_MALE)
        family = self.rng.choice(FAMILY)
        practitioner = {
            "resourceType": "Practitioner", "id": self.new_id(), "active": True,
            "identifier": [{"system": NPI, "value": str(self.rng.randrange(1_000_000_000, 2_000_000_000))}],
            "name": [{"use": "official", "family": family, "given": [given], "prefix": ["Dr"]}],
            "gender": "female" if female else "male",
            "qualification": [{"code": _concept("http://terminology.hl7.org/CodeSystem/v2-0360", "MD",
                                                "Doctor of Medicine")}]}
        role = {
            "resourceType": "PractitionerRole", "id": self.new_id(), "active": True,
            "practitioner": {"reference": f"Practitioner/{practitioner['id']}", "display": f"Dr {given} {family}"},
            "organization": {"reference": f"Organization/{organisation['id']}", "display": department.name},
            "code": [_concept("http://terminology.hl7.org/CodeSystem/practitioner-role", "doctor", "Doctor")],
            "specialty": [_concept(SNOMED, *department.specialty)]}
        return practitioner, role

    # -- patients ------------------------------------------------------------------------------

    def patient(self) -> dict[str, Any]:
        female = self.rng.random() < 0.52
        born = date(1930, 1, 1) + timedelta(days=self.rng.randrange(0, 365 * 90))
        city, postcode = self.rng.choice(CITIES)
        return {
            "resourceType": "Patient", "id": self.new_id(), "active": True,
            "identifier": [{"use": "usual", "system": MRN, "value": f"MRN-{self.rng.randrange(10**7, 10**8)}"}],
            "name": [{"use": "official", "family": self.rng.choice(FAMILY),
                      "given": [self.rng.choice(GIVEN_FEMALE if female else GIVEN_MALE)]}],
            "telecom": [{"system": "phone", "value": f"+44 113 496 {self.rng.randrange(0, 10000):04d}", "use": "home"}],
            "gender": "female" if female else "male",
            "birthDate": born.isoformat(),
            "address": [{"use": "home", "line": [f"{self.rng.randrange(1, 200)} {self.rng.choice(STREETS)}"],
                         "city": city, "postalCode": f"{postcode} {self.rng.randrange(1, 9)}AB", "country": "GB"}],
        }

    def stay(self, patient: dict[str, Any], department: Department, organisation: dict[str, Any],
             practitioner: dict[str, Any], start: datetime, *, dies: bool) -> Iterator[tuple[str, dict[str, Any]]]:
        """An encounter and everything recorded during it, as (file, resource) pairs."""
        rng = self.rng
        inpatient = dies or rng.random() < department.inpatient_share
        end = start + (timedelta(days=rng.randrange(1, 15), hours=rng.randrange(0, 24)) if inpatient
                       else timedelta(minutes=rng.randrange(15, 90)))
        subject = {"reference": f"Patient/{patient['id']}"}
        diagnosis_code, diagnosis = rng.choice(department.diagnoses)
        encounter: dict[str, Any] = {
            "resourceType": "Encounter", "id": self.new_id(), "status": "finished",
            "class": {"system": ACT_CODE, "code": "IMP" if inpatient else "AMB",
                      "display": "inpatient encounter" if inpatient else "ambulatory"},
            "type": [_concept(SNOMED, "32485007" if inpatient else "185349003",
                              "Hospital admission" if inpatient else "Encounter for check up")],
            "subject": subject,
            "participant": [{"individual": {"reference": f"Practitioner/{practitioner['id']}"}}],
            "period": {"start": _instant(start), "end": _instant(end)},
            "reasonCode": [_concept(SNOMED, diagnosis_code, diagnosis)],
            "serviceProvider": {"reference": f"Organization/{organisation['id']}", "display": department.name},
        }
        if inpatient:
            disposition = ("exp", "Expired") if dies else rng.choice(
                (("home", "Home"), ("home", "Home"), ("snf", "Skilled nursing facility"), ("rehab", "Rehabilitation")))
            encounter["hospitalization"] = {
                "admitSource": _concept("http://terminology.hl7.org/CodeSystem/admit-source",
                                        *rng.choice((("emd", "From accident/emergency department"),
                                                     ("gp", "General Practitioner referral")))),
                "dischargeDisposition": _concept(DISPOSITION, *disposition)}
        yield "05-Encounter", encounter
        context = {"subject": subject, "encounter": {"reference": f"Encounter/{encounter['id']}"}}
        yield "06-Condition", {
            "resourceType": "Condition", "id": self.new_id(),
            "clinicalStatus": _concept("http://terminology.hl7.org/CodeSystem/condition-clinical",
                                       "resolved" if not dies and rng.random() < 0.5 else "active", "Active"),
            "verificationStatus": _concept("http://terminology.hl7.org/CodeSystem/condition-ver-status",
                                           "confirmed", "Confirmed"),
            "category": [_concept("http://terminology.hl7.org/CodeSystem/condition-category", "encounter-diagnosis",
                                  "Encounter Diagnosis")],
            "code": _concept(SNOMED, diagnosis_code, diagnosis), **context,
            "onsetDateTime": _instant(start), "recordedDate": _instant(start)}
        performer = [{"reference": f"Practitioner/{practitioner['id']}"}]
        rounds = 1 if not inpatient else min(3, 1 + (end - start).days // 3)
        for n in range(rounds):
            taken = start + timedelta(hours=1 + n * 24)
            yield from (("07-Observation", vital) for vital in self.vitals(context, performer, taken))
        if inpatient or rng.random() < 0.5:
            taken = start + timedelta(hours=2)
            for panel in rng.sample(PANELS, 2 if inpatient else 1):
                results = [self.result(measure, context, performer, taken) for measure in panel.measures]
                yield from (("07-Observation", result) for result in results)
                yield "08-DiagnosticReport", {
                    "resourceType": "DiagnosticReport", "id": self.new_id(), "status": "final",
                    "category": [_concept("http://terminology.hl7.org/CodeSystem/v2-0074", "LAB", "Laboratory")],
                    "code": _concept(LOINC, panel.loinc, panel.display), **context,
                    "effectiveDateTime": _instant(taken), "issued": _instant(taken + timedelta(hours=3)),
                    "performer": performer,
                    "result": [{"reference": f"Observation/{result['id']}"} for result in results],
                    "conclusion": "See individual results."}

    def _quantity(self, measure: Measure, value: float | int) -> dict[str, Any]:
        return {"value": value, "unit": measure.unit, "system": UCUM, "code": measure.unit}

    def vitals(self, context: dict[str, Any], performer: list[dict[str, Any]], taken: datetime) -> Iterator[dict[str, Any]]:
        category = [_concept(CATEGORY, "vital-signs", "Vital Signs")]
        for measure in VITALS:
            yield {"resourceType": "Observation", "id": self.new_id(), "status": "final", "category": category,
                   "code": _concept(LOINC, measure.loinc, measure.display, measure.display), **context,
                   "effectiveDateTime": _instant(taken), "performer": performer,
                   "valueQuantity": self._quantity(measure, self.value(measure))}
        panel, systolic, diastolic = BLOOD_PRESSURE
        yield {"resourceType": "Observation", "id": self.new_id(), "status": "final", "category": category,
               "code": _concept(LOINC, panel.loinc, panel.display), **context,
               "effectiveDateTime": _instant(taken), "performer": performer,
               "component": [{"code": _concept(LOINC, m.loinc, m.display),
                              "valueQuantity": self._quantity(m, self.value(m))} for m in (systolic, diastolic)]}

    def result(self, measure: Measure, context: dict[str, Any], performer: list[dict[str, Any]],
               taken: datetime) -> dict[str, Any]:
        value = self.value(measure)
        flag = ("L", "Low") if value < measure.low else ("H", "High") if value > measure.high else ("N", "Normal")
        return {"resourceType": "Observation", "id": self.new_id(), "status": "final",
                "category": [_concept(CATEGORY, "laboratory", "Laboratory")],
                "code": _concept(LOINC, measure.loinc, measure.display), **context,
                "effectiveDateTime": _instant(taken), "issued": _instant(taken + timedelta(hours=2)),
                "performer": performer,
                "valueQuantity": self._quantity(measure, value),
                "interpretation": [_concept(INTERPRETATION, *flag)],
                "referenceRange": [{"low": self._quantity(measure, measure.low),
                                    "high": self._quantity(measure, measure.high)}]}


def generate(out_dir: Path, *, patients: int, seed: int = 7, mixed: bool = False) -> dict[str, int]:
    """Write the data set into `out_dir`; returns resources per type. One NDJSON file per type, or with
    `mixed` one file with each patient's resources together (an even workload from start to end)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    hospital = _Hospital(seed)
    counts = {name.split("-", 1)[1]: 0 for name in FILES}
    with ExitStack() as stack:
        if mixed:
            single = stack.enter_context((out_dir / "hospital.ndjson").open("wb"))
            files = dict.fromkeys(FILES, single)
        else:
            files = {name: stack.enter_context((out_dir / f"{name}.ndjson").open("wb")) for name in FILES}

        def write(name: str, resource: dict[str, Any]) -> None:
            files[name].write(orjson.dumps(resource) + b"\n")
            counts[name.split("-", 1)[1]] += 1

        root, departments = hospital.organisations()
        write("01-Organization", root)
        staff: list[tuple[Department, dict[str, Any], list[dict[str, Any]]]] = []
        for department, organisation in departments:
            write("01-Organization", organisation)
            people = []
            for _ in range(PRACTITIONERS_PER_DEPARTMENT):
                practitioner, role = hospital.practitioner(department, organisation)
                write("02-Practitioner", practitioner)
                write("03-PractitionerRole", role)
                people.append(practitioner)
            staff.append((department, organisation, people))
        rng = hospital.rng
        for _ in range(patients):
            patient = hospital.patient()
            visits = rng.randrange(1, 6)
            dies = rng.random() < 0.08
            moment = ANCHOR - timedelta(days=rng.randrange(200, 1500))
            stays: list[tuple[str, dict[str, Any]]] = []
            for visit in range(visits):
                department, organisation, people = rng.choice(staff)
                last = visit == visits - 1
                stays.extend(hospital.stay(patient, department, organisation, rng.choice(people), moment,
                                           dies=dies and last))
                moment += timedelta(days=rng.randrange(20, 240), hours=rng.randrange(7, 18))
            if dies:
                last_encounter = [r for name, r in stays if name == "05-Encounter"][-1]
                patient["deceasedDateTime"] = last_encounter["period"]["end"]
            write("04-Patient", patient)
            for name, resource in stays:
                write(name, resource)
    return counts
