"""Realistic resources for the REST tests."""

from __future__ import annotations

import copy
from typing import Any

PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "identifier": [{"system": "http://hospital.example.org/mrn", "value": "MRN-1001"}],
    "active": True,
    "name": [{"use": "official", "family": "Okafor", "given": ["Adaeze", "N."]}],
    "gender": "female",
    "birthDate": "1984-03-12",
    "address": [{"line": ["12 Harbour Road"], "city": "Leeds", "postalCode": "LS1 4AB", "country": "GB"}],
}

OBSERVATION: dict[str, Any] = {
    "resourceType": "Observation",
    "status": "final",
    "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                              "code": "laboratory"}]}],
    "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7", "display": "Glucose [Mass/volume] in Serum or Plasma"}]},
    "subject": {"reference": "Patient/example"},
    "effectiveDateTime": "2026-11-20T08:30:00+00:00",
    "valueQuantity": {"value": 7.10, "unit": "mmol/L", "system": "http://unitsofmeasure.org", "code": "mmol/L"},
    "referenceRange": [{"low": {"value": 3.90, "unit": "mmol/L", "system": "http://unitsofmeasure.org", "code": "mmol/L"},
                        "high": {"value": 5.50, "unit": "mmol/L", "system": "http://unitsofmeasure.org", "code": "mmol/L"}}],
}

# The exact bytes a client sends: the decimals' trailing zeros are significant in FHIR.
OBSERVATION_BYTES = (
    b'{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org",'
    b'"code":"2345-7"}]},"subject":{"reference":"Patient/example"},'
    b'"valueQuantity":{"value":7.10,"unit":"mmol/L","system":"http://unitsofmeasure.org","code":"mmol/L"},'
    b'"effectiveDateTime":"2026-11-20T08:30:00.000+01:00"}'
)


def patient(**changes: Any) -> dict[str, Any]:
    resource = copy.deepcopy(PATIENT)
    resource.update(changes)
    return resource


def observation(**changes: Any) -> dict[str, Any]:
    resource = copy.deepcopy(OBSERVATION)
    resource.update(changes)
    return resource
