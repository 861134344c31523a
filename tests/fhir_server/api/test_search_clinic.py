"""A small clinic for the search tests: patients with encounters, vitals and labs (LOINC codes, UCUM
units, some in units other than the ones searched), conditions, reports, risk assessments and a list.

`load(client)` writes it through the REST API (PUT with the ids below), as a client would.
"""

from __future__ import annotations

from typing import Any

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
MRN = "http://hospital.example.org/mrn"
VITALS = "http://hl7.org/fhir/StructureDefinition/vitalsigns"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"


def _narrative(text: str) -> dict[str, str]:
    return {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml"><p>{text}</p></div>'}


def _patient(pid: str, family: str, given: str, gender: str, birth: str, mrn: str, **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": pid, "identifier": [{"system": MRN, "value": mrn}],
            "name": [{"use": "official", "family": family, "given": [given]}], "gender": gender,
            "birthDate": birth, **extra}


def _quantity(value: Any, code: str) -> dict[str, Any]:
    return {"value": value, "unit": code, "system": UCUM, "code": code}


def _observation(oid: str, patient: str, code: str, display: str, when: str, *, category: str = "laboratory",
                 encounter: str | None = None, status: str = "final", **value: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation", "id": oid, "status": status,
        "category": [{"coding": [{"system": CATEGORY, "code": category}]}],
        "code": {"coding": [{"system": LOINC, "code": code, "display": display}], "text": display},
        "subject": {"reference": f"Patient/{patient}"}, "effectiveDateTime": when, **value,
    }
    if category == "vital-signs":
        resource["meta"] = {"profile": [VITALS]}
    if encounter:
        resource["encounter"] = {"reference": f"Encounter/{encounter}"}
    return resource


def _blood_pressure(oid: str, patient: str, when: str, systolic: int, diastolic: int,
                    encounter: str | None = None) -> dict[str, Any]:
    resource = _observation(oid, patient, "85354-9", "Blood pressure panel", when, category="vital-signs",
                            encounter=encounter)
    resource["component"] = [
        {"code": {"coding": [{"system": LOINC, "code": "8480-6", "display": "Systolic blood pressure"}]},
         "valueQuantity": _quantity(systolic, "mm[Hg]")},
        {"code": {"coding": [{"system": LOINC, "code": "8462-4", "display": "Diastolic blood pressure"}]},
         "valueQuantity": _quantity(diastolic, "mm[Hg]")},
    ]
    return resource


def _encounter(eid: str, patient: str, klass: str, start: str, end: str) -> dict[str, Any]:
    return {"resourceType": "Encounter", "id": eid, "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": klass},
            "subject": {"reference": f"Patient/{patient}"}, "period": {"start": start, "end": end},
            "serviceProvider": {"reference": "Organization/org1"}}


def _condition(cid: str, patient: str, snomed: str, display: str, onset: str) -> dict[str, Any]:
    return {"resourceType": "Condition", "id": cid,
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                           "code": "active"}]},
            "code": {"coding": [{"system": SNOMED, "code": snomed, "display": display}], "text": display},
            "subject": {"reference": f"Patient/{patient}"}, "onsetDateTime": onset}


CLINIC: list[dict[str, Any]] = [
    {"resourceType": "Organization", "id": "org1", "name": "Riverside General Hospital"},
    {"resourceType": "Practitioner", "id": "pr1", "name": [{"family": "Mensah", "given": ["Kwame"]}]},
    {"resourceType": "Practitioner", "id": "pr2", "name": [{"family": "Lindqvist", "given": ["Sofia"]}]},
    _patient("pat1", "Okafor", "Adaeze", "female", "1984-03-12", "MRN-1001",
             generalPractitioner=[{"reference": "Practitioner/pr1"}], managingOrganization={"reference": "Organization/org1"},
             text=_narrative("Adaeze Okafor, type 2 diabetes, on metformin")),
    _patient("pat2", "García-López", "Tomás", "male", "1950-07-01", "MRN-1002",
             generalPractitioner=[{"reference": "Practitioner/pr2"}], deceasedDateTime="2024-05-01T04:00:00Z",
             text=_narrative("Tomás García-López, hypertension and anaemia")),
    _patient("pat3", "Chen", "Mei", "female", "2001-11-30", "MRN-1003", active=False,
             generalPractitioner=[{"reference": "Practitioner/pr1"}]),
    _patient("pat4", "Müller", "Jonas", "male", "1975", "MRN-1004", managingOrganization={"reference": "Organization/org1"}),
    _encounter("enc1", "pat1", "AMB", "2024-01-10T08:30:00Z", "2024-01-10T10:00:00Z"),
    _encounter("enc2", "pat2", "IMP", "2024-02-01T09:00:00Z", "2024-02-05T12:00:00Z"),
    _encounter("enc3", "pat3", "AMB", "2024-03-03T14:00:00Z", "2024-03-03T15:00:00Z"),
    _encounter("enc4", "pat1", "EMER", "2024-06-15T22:00:00Z", "2024-06-16T03:00:00Z"),
    _observation("hr1", "pat1", "8867-4", "Heart rate", "2024-01-10T09:00:00Z", category="vital-signs",
                 encounter="enc1", valueQuantity=_quantity(72, "/min")),
    _observation("hr2", "pat2", "8867-4", "Heart rate", "2024-02-01T10:00:00Z", category="vital-signs",
                 encounter="enc2", valueQuantity=_quantity(110, "/min")),
    _blood_pressure("bp1", "pat1", "2024-01-10T09:05:00Z", 128, 82, "enc1"),
    _blood_pressure("bp2", "pat2", "2024-02-01T10:05:00Z", 150, 95, "enc2"),
    _blood_pressure("bp3", "pat3", "2024-03-03T14:10:00Z", 118, 76, "enc3"),
    _observation("wt1", "pat1", "29463-7", "Body weight", "2024-01-10T09:10:00Z", category="vital-signs",
                 valueQuantity=_quantity(72.5, "kg")),
    _observation("wt2", "pat4", "29463-7", "Body weight", "2024-04-01", category="vital-signs",
                 valueQuantity=_quantity(180, "[lb_av]")),
    _observation("temp1", "pat2", "8310-5", "Body temperature", "2024-02-01T10:10:00Z", category="vital-signs",
                 valueQuantity=_quantity(38.4, "Cel")),
    _observation("temp2", "pat3", "8310-5", "Body temperature", "2024-03-03T14:15:00Z", category="vital-signs",
                 valueQuantity=_quantity(99.5, "[degF]")),
    _observation("glu1", "pat1", "2345-7", "Glucose [Moles/volume] in Serum or Plasma", "2024-01-10T09:30:00Z",
                 encounter="enc1", valueQuantity=_quantity(7.1, "mmol/L")),
    _observation("glu2", "pat1", "2345-7", "Glucose [Moles/volume] in Serum or Plasma", "2024-06-15T23:00:00Z",
                 encounter="enc4", valueQuantity=_quantity(5400, "umol/L")),
    _observation("glu3", "pat2", "2345-7", "Glucose [Moles/volume] in Serum or Plasma", "2024-02-02T07:00:00Z",
                 valueQuantity=_quantity(4.9, "mmol/L")),
    _observation("glu4", "pat3", "2339-0", "Glucose [Mass/volume] in Blood", "2024-03-03T14:30:00Z",
                 valueQuantity=_quantity(110, "mg/dL")),
    _observation("hb1", "pat2", "718-7", "Hemoglobin [Mass/volume] in Blood", "2024-02-02T07:00:00Z",
                 status="preliminary", valueQuantity=_quantity(9.8, "g/dL")),
    _observation("cr1", "pat4", "2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "2024-04-01",
                 valueQuantity=_quantity(1.1, "mg/dL")),
    _observation("cr2", "pat2", "14682-9", "Creatinine [Moles/volume] in Serum or Plasma", "2024-02-02T07:00:00Z",
                 valueQuantity=_quantity(140, "umol/L")),
    _observation("smoke", "pat4", "72166-2", "Tobacco smoking status", "2024-04-01", category="social-history",
                 valueCodeableConcept={"coding": [{"system": SNOMED, "code": "8517006", "display": "Former smoker"}],
                                       "text": "Former smoker"}),
    _observation("urine", "pat3", "5792-7", "Glucose [Mass/volume] in Urine by Test strip", "2024-03-03T14:40:00Z",
                 valueString="negative"),
    _condition("cond1", "pat1", "44054006", "Type 2 diabetes mellitus", "2019"),
    _condition("cond2", "pat2", "38341003", "Hypertensive disorder", "2015-06"),
    _condition("cond3", "pat2", "271737000", "Anemia", "2024-02-02"),
    {"resourceType": "DiagnosticReport", "id": "dr1", "status": "final",
     "code": {"coding": [{"system": LOINC, "code": "51990-0", "display": "Basic metabolic panel"}]},
     "subject": {"reference": "Patient/pat1"}, "issued": "2024-06-16T08:00:00Z",
     "result": [{"reference": "Observation/glu1"}, {"reference": "Observation/glu2"}]},
    {"resourceType": "DiagnosticReport", "id": "dr2", "status": "final",
     "code": {"coding": [{"system": LOINC, "code": "58410-2", "display": "CBC panel"}]},
     "subject": {"reference": "Patient/pat2"}, "issued": "2024-02-02T12:00:00Z",
     "result": [{"reference": "Observation/hb1"}, {"reference": "Observation/cr2"}]},
    {"resourceType": "RiskAssessment", "id": "ra1", "status": "final", "subject": {"reference": "Patient/pat1"},
     "occurrenceDateTime": "2024-06-16", "prediction": [{"outcome": {"text": "Diabetic complication"},
                                                          "probabilityDecimal": 0.12}]},
    {"resourceType": "RiskAssessment", "id": "ra2", "status": "final", "subject": {"reference": "Patient/pat2"},
     "occurrenceDateTime": "2024-02-03", "prediction": [{"outcome": {"text": "Cardiovascular event"},
                                                          "probabilityDecimal": 0.35}]},
    {"resourceType": "List", "id": "flagged", "status": "current", "mode": "working", "title": "Flagged results",
     "entry": [{"item": {"reference": "Observation/glu1"}}, {"item": {"reference": "Observation/hb1"}}]},
]

OBSERVATIONS = {r["id"] for r in CLINIC if r["resourceType"] == "Observation"}


async def load(client: Any) -> None:
    for resource in CLINIC:
        response = await client.put(f"/fhir/{resource['resourceType']}/{resource['id']}", json=resource)
        assert response.status_code == 201, response.text


def ids(bundle: dict[str, Any], mode: str = "match") -> set[str]:
    return {entry["resource"]["id"] for entry in bundle.get("entry", []) if entry["search"]["mode"] == mode}


async def test_the_clinic_loads_and_every_observation_is_found(client: Any) -> None:
    await load(client)
    response = await client.get("/fhir/Observation", params={"_count": "100"})
    assert response.status_code == 200
    bundle = response.json()
    assert bundle["type"] == "searchset" and ids(bundle) == OBSERVATIONS and bundle["total"] == len(OBSERVATIONS)
