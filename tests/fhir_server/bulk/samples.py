"""A small hospital with identifying details everywhere, for the export and analytics tests."""

from __future__ import annotations

from typing import Any

ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
ATND = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "ATND"}]}
SNOMED = "http://snomed.info/sct"

PATIENTS = [
    # id, family, given, mrn, ssn, phone, email, line, city, zip, birth, deceased
    ("ada", "Okafor", "Adaeze", "MRN-7731", "123-45-6789", "+1 307 555 0101", "ada@example.com",
     "12 Harbour Road", "Cheyenne", "82001", "1984-03-12", None),
    ("bo", "Lindqvist", "Bodil", "MRN-7732", "987-65-4321", "+1 307 555 0102", "bo@example.com",
     "7 Birch Lane", "Laramie", "82070", "1929-11-02", "2024-05-14T08:30:00Z"),
    ("cy", "Nakamura", "Cyrus", "MRN-7733", "555-12-3456", "+1 406 555 0103", "cy@example.com",
     "3 Elm Court", "Billings", "59101", "1958-07-21", None),
]


def patient(pid: str, family: str, given: str, mrn: str, ssn: str, phone: str, email: str, line: str, city: str,
            postal: str, birth: str, deceased: str | None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient", "id": pid,
        "identifier": [{"system": "http://hospital.example.org/mrn", "value": mrn},
                       {"system": "http://hl7.org/fhir/sid/us-ssn", "value": ssn}],
        "name": [{"use": "official", "family": family, "given": [given]}],
        "telecom": [{"system": "phone", "value": phone}, {"system": "email", "value": email}],
        "gender": "female", "birthDate": birth,
        "address": [{"line": [line], "city": city, "state": "WY", "postalCode": postal, "country": "US"}],
        "photo": [{"contentType": "image/png", "data": "aGVsbG8="}],
        "contact": [{"name": {"family": f"{family}-Kin", "given": ["Jo"]}, "telecom": [{"system": "phone",
                                                                                      "value": "+1 307 555 0199"}]}],
    }
    if deceased:
        resource["deceasedDateTime"] = deceased
    return resource


def practitioner(prid: str, family: str) -> dict[str, Any]:
    return {"resourceType": "Practitioner", "id": prid, "name": [{"family": family, "given": ["Sam"], "prefix": ["Dr"]}],
            "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": f"NPI-{prid}"}]}


def organization(oid: str, name: str) -> dict[str, Any]:
    return {"resourceType": "Organization", "id": oid, "name": name}


def encounter(eid: str, pid: str, *, start: str, end: str | None, attending: str = "doc-1", dept: str = "cardio",
              disposition: str = "home", condition: str | None = None, klass: str = "IMP",
              status: str = "finished", reason: tuple[str, str] | None = None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Encounter", "id": eid, "status": status,
        "class": {"system": ACT, "code": klass}, "subject": {"reference": f"Patient/{pid}", "display": "Patient name"},
        "participant": [{"type": [ATND], "individual": {"reference": f"Practitioner/{attending}"}}],
        "period": {"start": start, **({"end": end} if end else {})},
        "serviceProvider": {"reference": f"Organization/{dept}"},
        "location": [{"location": {"reference": f"Location/ward-{dept}"}}],
        "hospitalization": {"dischargeDisposition": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/discharge-disposition", "code": disposition}]}},
    }
    if condition:
        resource["diagnosis"] = [{"condition": {"reference": f"Condition/{condition}"}, "rank": 1}]
    if reason:
        resource["reasonCode"] = [{"coding": [{"system": SNOMED, "code": reason[0], "display": reason[1]}]}]
    return resource


def condition(cid: str, pid: str, code: str, display: str) -> dict[str, Any]:
    return {"resourceType": "Condition", "id": cid, "subject": {"reference": f"Patient/{pid}"},
            "code": {"coding": [{"system": SNOMED, "code": code, "display": display}], "text": display}}


def observation(oid: str, pid: str, when: str, value: int) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": oid, "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]},
            "subject": {"reference": f"Patient/{pid}"}, "effectiveDateTime": when,
            "valueQuantity": {"value": value, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"},
            "note": [{"text": "Patient Okafor was anxious"}]}


def hospital() -> list[dict[str, Any]]:
    """Three patients with an encounter, a condition and observations each; two practitioners, a group."""
    out: list[dict[str, Any]] = [practitioner("doc-1", "House"), practitioner("doc-2", "Quinn"),
                                 organization("cardio", "Cardiology"), organization("onco", "Oncology")]
    for row in PATIENTS:
        out.append(patient(*row))
    out += [
        condition("mi-ada", "ada", "22298006", "Myocardial infarction"),
        condition("ca-bo", "bo", "363358000", "Lung cancer"),
        encounter("e-ada", "ada", start="2024-02-01T10:00:00Z", end="2024-02-05T12:00:00Z", condition="mi-ada"),
        encounter("e-bo", "bo", start="2024-05-10T09:00:00Z", end="2024-05-14T09:00:00Z", attending="doc-2",
                  dept="onco", condition="ca-bo"),
        encounter("e-cy", "cy", start="2024-03-01T10:00:00Z", end="2024-03-02T10:00:00Z", klass="AMB"),
    ]
    for index, (pid, *_rest) in enumerate(PATIENTS):
        for n in range(3):
            out.append(observation(f"obs-{pid}-{n}", pid, f"2024-0{n + 1}-1{index}T08:15:00Z", 60 + n))
    out.append({"resourceType": "Group", "id": "cohort", "type": "person", "actual": True,
                "member": [{"entity": {"reference": "Patient/ada"}}, {"entity": {"reference": "Patient/bo"}}]})
    return out
