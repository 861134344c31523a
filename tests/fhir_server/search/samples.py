"""Realistic resources shared by the extraction and SQL tests (parsed as the server parses JSON)."""

from __future__ import annotations

from typing import Any

from resources.fhir_json import loads

MRN = "http://hospital.example/mrn"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
VITALS = "http://hl7.org/fhir/StructureDefinition/vitalsigns"


def _parse(text: str) -> dict[str, Any]:
    value = loads(text)
    assert isinstance(value, dict)
    return value


ANN = _parse("""{
  "resourceType": "Patient", "id": "p1",
  "meta": {"tag": [{"system": "http://example.org/tags", "code": "import"}]},
  "identifier": [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}],
                           "text": "Medical record number"},
                  "system": "http://hospital.example/mrn", "value": "123"}],
  "active": true,
  "name": [{"use": "official", "family": "Müller", "given": ["Ann", "Marie"], "prefix": ["Dr."]},
           {"use": "nickname", "given": ["Annie"]}],
  "telecom": [{"system": "phone", "value": "+41 44 123 45 67"}, {"system": "email", "value": "ann@example.org"}],
  "gender": "female",
  "birthDate": "1974-12-25",
  "deceasedBoolean": false,
  "address": [{"line": ["Bahnhofstrasse 1"], "city": "Zürich", "postalCode": "8001", "country": "CH"}],
  "generalPractitioner": [{"reference": "Practitioner/dr1"}],
  "managingOrganization": {"reference": "Organization/org1"}
}""")

BOB = _parse("""{
  "resourceType": "Patient", "id": "p2",
  "identifier": [{"system": "http://hospital.example/mrn", "value": "456"}],
  "active": false,
  "name": [{"family": "O'Brien", "given": ["Bob"]}],
  "gender": "male",
  "birthDate": "1980-06",
  "deceasedDateTime": "2020-01-01T10:00:00Z",
  "address": [{"city": "Basel", "country": "CH"}],
  "managingOrganization": {"reference": "Organization/org1"}
}""")

CHLOE = _parse("""{
  "resourceType": "Patient", "id": "p3",
  "identifier": [{"system": "http://other.example/ids", "value": "123"}],
  "name": [{"family": "Martin-Duval", "given": ["Chloé"]}],
  "gender": "female",
  "birthDate": "2001",
  "managingOrganization": {"reference": "http://other.example/fhir/Organization/x9"}
}""")

# stored as deleted: must never match
GONE = _parse("""{
  "resourceType": "Patient", "id": "p4",
  "name": [{"family": "Müller", "given": ["Ann"]}],
  "gender": "female"
}""")

HOUSE = _parse("""{
  "resourceType": "Practitioner", "id": "dr1",
  "name": [{"family": "House", "given": ["Gregory"]}]
}""")

# ids and identifiers differing only in case: byte order puts upper case first, locales do not
HOUSE_2 = _parse("""{"resourceType": "Practitioner", "id": "Dr2", "identifier": [{"value": "B-2"}],
  "name": [{"family": "Zed"}]}""")
HOUSE_3 = _parse("""{"resourceType": "Practitioner", "id": "dr3", "identifier": [{"value": "a-3"}],
  "name": [{"family": "Young"}]}""")

HOSPITAL = _parse("""{"resourceType": "Organization", "id": "org1", "name": "General Hospital"}""")

VISIT = _parse("""{
  "resourceType": "Encounter", "id": "e1", "status": "finished",
  "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
  "subject": {"reference": "Patient/p1"},
  "period": {"start": "2024-03-05T08:00:00Z", "end": "2024-03-05T12:00:00Z"},
  "length": {"value": 4, "unit": "h", "system": "http://unitsofmeasure.org", "code": "h"}
}""")

STAY = _parse("""{
  "resourceType": "Encounter", "id": "e2", "status": "in-progress",
  "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
  "subject": {"reference": "Patient/p2"},
  "period": {"start": "2024-04-01"}
}""")

WEIGHT_ANN = _parse("""{
  "resourceType": "Observation", "id": "o1", "meta": {"profile": ["http://hl7.org/fhir/StructureDefinition/vitalsigns"]},
  "status": "final",
  "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                            "code": "vital-signs", "display": "Vital Signs"}]}],
  "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7", "display": "Body weight"}], "text": "Weight"},
  "subject": {"reference": "Patient/p1"},
  "encounter": {"reference": "Encounter/e1"},
  "effectiveDateTime": "2024-03-05T09:30:00+01:00",
  "performer": [{"reference": "Practitioner/dr1"}],
  "valueQuantity": {"value": 72.50, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"}
}""")

HBA1C_ANN = _parse("""{
  "resourceType": "Observation", "id": "o2", "status": "final",
  "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4", "display": "Hemoglobin A1c/Hemoglobin.total in Blood"}]},
  "subject": {"reference": "Patient/p1/_history/1"},
  "effectiveDateTime": "2023-12-01",
  "valueQuantity": {"value": 6.1, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"}
}""")

WEIGHT_BOB = _parse("""{
  "resourceType": "Observation", "id": "o3", "meta": {"profile": ["http://hl7.org/fhir/StructureDefinition/vitalsigns"]},
  "status": "preliminary",
  "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7", "display": "Body weight"}]},
  "subject": {"reference": "Patient/p2"},
  "encounter": {"reference": "Encounter/e2"},
  "effectiveDateTime": "2024-04-02",
  "valueQuantity": {"value": 90, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"}
}""")

SMOKING_CHLOE = _parse("""{
  "resourceType": "Observation", "id": "o4", "status": "amended",
  "code": {"coding": [{"system": "http://loinc.org", "code": "72166-2", "display": "Tobacco smoking status"}]},
  "subject": {"reference": "Patient/p3", "identifier": {"system": "http://other.example/ids", "value": "123"}},
  "effectivePeriod": {"start": "2020-01", "end": "2022-06"},
  "valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct", "code": "8517006", "display": "Ex-smoker"}],
                           "text": "Former smoker"}
}""")

WEIGHT_GROUP = _parse("""{
  "resourceType": "Observation", "id": "o5", "status": "final",
  "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
  "subject": {"reference": "Group/g1"},
  "effectiveDateTime": "2024-03",
  "valueQuantity": {"value": 100, "unit": "lb", "system": "http://unitsofmeasure.org", "code": "[lb_av]"}
}""")

ABOUT_GONE = _parse("""{
  "resourceType": "Observation", "id": "o6", "status": "final",
  "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
  "subject": {"reference": "Patient/p4"},
  "valueString": "no value"
}""")

RISK_ANN = _parse("""{
  "resourceType": "RiskAssessment", "id": "r1", "status": "final", "subject": {"reference": "Patient/p1"},
  "prediction": [{"probabilityDecimal": 0.25}]
}""")

RISK_BOB = _parse("""{
  "resourceType": "RiskAssessment", "id": "r2", "status": "final", "subject": {"reference": "Patient/p2"},
  "prediction": [{"probabilityDecimal": 0.8}]
}""")

# (resource, lastUpdated, deleted)
STORE: list[tuple[dict[str, Any], str, bool]] = [
    (ANN, "2024-01-01T00:00:00Z", False),
    (BOB, "2024-02-01T00:00:00Z", False),
    (CHLOE, "2024-03-01T00:00:00Z", False),
    (GONE, "2024-03-02T00:00:00Z", True),
    (HOUSE, "2024-01-01T00:00:00Z", False),
    (HOUSE_2, "2024-01-02T00:00:00Z", False),
    (HOUSE_3, "2024-01-03T00:00:00Z", False),
    (HOSPITAL, "2024-01-01T00:00:00Z", False),
    (VISIT, "2024-03-05T12:00:00Z", False),
    (STAY, "2024-04-01T00:00:00Z", False),
    (WEIGHT_ANN, "2024-03-05T10:00:00Z", False),
    (HBA1C_ANN, "2023-12-02T00:00:00Z", False),
    (WEIGHT_BOB, "2024-04-02T10:00:00Z", False),
    (SMOKING_CHLOE, "2024-03-01T00:00:00Z", False),
    (WEIGHT_GROUP, "2024-03-31T00:00:00Z", False),
    (ABOUT_GONE, "2024-03-03T00:00:00Z", False),
    (RISK_ANN, "2024-03-05T00:00:00Z", False),
    (RISK_BOB, "2024-04-05T00:00:00Z", False),
]
