"""Deterministic, realistic clinical data for the search benchmark.

Every patient `i` (a function of `i` alone, so processes generate disjoint slices in parallel) has a
general practitioner, three encounters, vitals at each (heart rate, blood pressure with systolic and
diastolic components, weight, temperature, respiratory rate, SpO2), labs (glucose in mmol/L or mg/dL,
HbA1c, haemoglobin, creatinine in umol/L, potassium, sodium) with LOINC codes and UCUM units, one or
two conditions (SNOMED CT), a diagnostic report over the labs of the last encounter, and a risk
assessment: `PER_PATIENT` (about 35) resources. Practitioners and organisations come separately.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

__all__ = ["Plan", "plan_for", "patient_resources", "shared_resources", "FAMILIES", "LABS", "CONDITIONS",
           "MRN_SYSTEM", "PER_PATIENT"]

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
MRN_SYSTEM = "http://hospital.example.org/mrn"
NPI = "http://hl7.org/fhir/sid/us-npi"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
ENCOUNTERS = 3
PER_PATIENT = 35  # on average: 1 + 3 encounters + 3 x 6 vitals + ~10 labs + 1.5 conditions + report + risk

FAMILIES = [
    "Okafor", "Nguyen", "García", "Müller", "Smith", "Johansson", "Kowalski", "Haddad", "Tanaka", "Silva",
    "Ivanova", "O'Brien", "Mensah", "Chen", "Patel", "Rossi", "Dubois", "Novak", "Hansen", "Yilmaz",
    "Adeyemi", "Kim", "Fernández", "Schmidt", "Nowak", "Papadopoulos", "Costa", "Andersen", "Horvath", "Ali",
    "Bianchi", "Jensen", "Lindqvist", "Mwangi", "Sato", "Wójcik", "Virtanen", "Murphy", "Kaya", "Banda",
    "Hoffmann", "Moreau", "Popescu", "Ndlovu", "Suzuki", "Eriksson", "Lopez", "Khan", "Abebe", "Petrov",
]
GIVEN = ["Adaeze", "Mai", "Tomás", "Jonas", "Emily", "Sofia", "Piotr", "Layla", "Yuki", "Ana", "Olga", "Sean",
         "Kwame", "Mei", "Priya", "Marco", "Claire", "Jan", "Ingrid", "Emre", "Tunde", "Min-jun", "Lucía", "Lena"]
CITIES = ["Leeds", "Lyon", "Porto", "Graz", "Turku", "Accra", "Osaka", "Kraków", "Bergen", "Nairobi"]


@dataclass(frozen=True, slots=True)
class Lab:
    code: str
    display: str
    unit: str
    low: float
    high: float
    places: int


LABS = [
    Lab("2345-7", "Glucose [Moles/volume] in Serum or Plasma", "mmol/L", 3.5, 15.0, 1),
    Lab("2339-0", "Glucose [Mass/volume] in Blood", "mg/dL", 60, 260, 0),
    Lab("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", 4.5, 11.0, 1),
    Lab("718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", 8.0, 17.5, 1),
    Lab("2160-0", "Creatinine [Moles/volume] in Serum or Plasma", "umol/L", 45, 400, 0),
    Lab("2823-3", "Potassium [Moles/volume] in Serum or Plasma", "mmol/L", 3.0, 6.0, 1),
    Lab("2951-2", "Sodium [Moles/volume] in Serum or Plasma", "mmol/L", 128, 150, 0),
]
VITALS = [
    ("8867-4", "Heart rate", "/min", 48, 130, 0),
    ("29463-7", "Body weight", "kg", 45, 130, 1),
    ("8310-5", "Body temperature", "Cel", 35.8, 39.8, 1),
    ("9279-1", "Respiratory rate", "/min", 10, 28, 0),
    ("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry", "%", 86, 100, 0),
]
CONDITIONS = [
    ("44054006", "Type 2 diabetes mellitus"), ("38341003", "Hypertensive disorder"), ("195967001", "Asthma"),
    ("709044004", "Chronic kidney disease"), ("13645005", "Chronic obstructive lung disease"),
    ("271737000", "Anemia"), ("49436004", "Atrial fibrillation"), ("35489007", "Depressive disorder"),
]


@dataclass(frozen=True, slots=True)
class Plan:
    patients: int
    practitioners: int
    organizations: int


def plan_for(total: int) -> Plan:
    """How many patients, practitioners and organisations make about `total` resources."""
    patients = max(1, total // PER_PATIENT)
    return Plan(patients, max(5, patients // 150), 20)


def _decimal(rng: random.Random, low: float, high: float, places: int) -> Decimal | int:
    value = rng.uniform(low, high)
    return int(round(value)) if places == 0 else Decimal(f"{value:.{places}f}")


def _quantity(value: Decimal | int, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def _concept(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def _observation(oid: str, pid: str, eid: str, when: str, category: str, code: str, display: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation", "id": oid, "status": "final",
        "category": [{"coding": [{"system": CATEGORY, "code": category}]}],
        "code": _concept(LOINC, code, display), "subject": {"reference": f"Patient/{pid}"},
        "encounter": {"reference": f"Encounter/{eid}"}, "effectiveDateTime": when,
    }


def patient_resources(i: int, plan: Plan) -> Iterator[dict[str, Any]]:
    """The resources of patient `i`: the Patient first, then what refers to it."""
    rng = random.Random(i * 7919 + 17)
    pid = f"pat-{i}"
    family, given = FAMILIES[rng.randrange(len(FAMILIES))], GIVEN[rng.randrange(len(GIVEN))]
    gp = f"prac-{rng.randrange(plan.practitioners)}"
    org = f"org-{rng.randrange(plan.organizations)}"
    born = f"{rng.randrange(1930, 2015)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
    yield {
        "resourceType": "Patient", "id": pid,
        "identifier": [{"system": MRN_SYSTEM, "value": f"MRN-{i:08d}"}], "active": True,
        "name": [{"use": "official", "family": family, "given": [given]}],
        "gender": rng.choice(("female", "male")), "birthDate": born,
        "address": [{"city": CITIES[rng.randrange(len(CITIES))], "country": "GB"}],
        "generalPractitioner": [{"reference": f"Practitioner/{gp}"}],
        "managingOrganization": {"reference": f"Organization/{org}"},
    }
    conditions = rng.sample(CONDITIONS, rng.choice((1, 2)))
    for n, (code, display) in enumerate(conditions):
        yield {"resourceType": "Condition", "id": f"cond-{i}-{n}",
               "clinicalStatus": _concept("http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active"),
               "code": _concept(SNOMED, code, display), "subject": {"reference": f"Patient/{pid}"},
               "onsetDateTime": f"{rng.randrange(2000, 2023)}-{rng.randrange(1, 13):02d}"}
    lab_ids: list[str] = []
    for e in range(ENCOUNTERS):
        eid = f"enc-{i}-{e}"
        day = f"{rng.randrange(2019, 2025)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
        hour = rng.randrange(7, 19)
        when = f"{day}T{hour:02d}:{rng.randrange(60):02d}:00Z"
        yield {"resourceType": "Encounter", "id": eid, "status": "finished",
               "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": rng.choice(("AMB", "IMP", "EMER"))},
               "subject": {"reference": f"Patient/{pid}"},
               "participant": [{"individual": {"reference": f"Practitioner/{gp}"}}],
               "period": {"start": when, "end": f"{day}T{hour + 1:02d}:30:00Z"},
               "serviceProvider": {"reference": f"Organization/{org}"}}
        for v, (code, display, unit, low, high, places) in enumerate(VITALS):
            observation = _observation(f"vit-{i}-{e}-{v}", pid, eid, when, "vital-signs", code, display)
            observation["valueQuantity"] = _quantity(_decimal(rng, low, high, places), unit)
            yield observation
        pressure = _observation(f"bp-{i}-{e}", pid, eid, when, "vital-signs", "85354-9", "Blood pressure panel")
        systolic = rng.randrange(95, 185)
        pressure["component"] = [
            {"code": _concept(LOINC, "8480-6", "Systolic blood pressure"), "valueQuantity": _quantity(systolic, "mm[Hg]")},
            {"code": _concept(LOINC, "8462-4", "Diastolic blood pressure"),
             "valueQuantity": _quantity(rng.randrange(55, min(systolic - 20, 120)), "mm[Hg]")},
        ]
        yield pressure
        if e == 0 and rng.random() < 0.5:
            continue
        lab_ids = []
        for lab in rng.sample(LABS, rng.randrange(3, 6)):
            oid = f"lab-{i}-{e}-{lab.code}"
            observation = _observation(oid, pid, eid, when, "laboratory", lab.code, lab.display)
            observation["valueQuantity"] = _quantity(_decimal(rng, lab.low, lab.high, lab.places), lab.unit)
            lab_ids.append(oid)
            yield observation
    if lab_ids:
        yield {"resourceType": "DiagnosticReport", "id": f"dr-{i}", "status": "final",
               "code": _concept(LOINC, "24323-8", "Comprehensive metabolic 2000 panel"),
               "subject": {"reference": f"Patient/{pid}"}, "issued": "2024-12-01T08:00:00Z",
               "result": [{"reference": f"Observation/{oid}"} for oid in lab_ids]}
    yield {"resourceType": "RiskAssessment", "id": f"risk-{i}", "status": "final",
           "subject": {"reference": f"Patient/{pid}"}, "occurrenceDateTime": "2024-12-02",
           "prediction": [{"outcome": {"text": "Hospital admission within 12 months"},
                           "probabilityDecimal": Decimal(f"{rng.uniform(0.01, 0.9):.2f}")}]}


def shared_resources(plan: Plan) -> Iterator[dict[str, Any]]:
    for o in range(plan.organizations):
        yield {"resourceType": "Organization", "id": f"org-{o}", "name": f"{CITIES[o % len(CITIES)]} Hospital {o}"}
    for p in range(plan.practitioners):
        rng = random.Random(p * 104729 + 3)
        yield {"resourceType": "Practitioner", "id": f"prac-{p}",
               "identifier": [{"system": NPI, "value": f"{1000000000 + p}"}],
               "name": [{"family": FAMILIES[rng.randrange(len(FAMILIES))], "given": [GIVEN[rng.randrange(len(GIVEN))]],
                         "prefix": ["Dr."]}]}
