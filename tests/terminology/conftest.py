"""One store with the vendored content for the whole session (read-only tests), and fresh ones to write to."""

from __future__ import annotations

import pytest

from terminology import TerminologyStore

ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
GENDER = "http://hl7.org/fhir/administrative-gender"
GENDER_VS = "http://hl7.org/fhir/ValueSet/administrative-gender"
V2_SEX = "http://terminology.hl7.org/CodeSystem/v2-0001"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10"


@pytest.fixture(scope="session")
def store() -> TerminologyStore:
    """The bundled content; tests must not add to it (use `fresh_store`)."""
    return TerminologyStore()


@pytest.fixture
def fresh_store() -> TerminologyStore:
    return TerminologyStore()


def params(resource: dict) -> dict:
    """Output parameters by name: a value, or a list when repeated; parts as dicts of their values."""
    found: dict = {}
    for param in resource["parameter"]:
        if "part" in param:
            value = {p["name"]: next(v for k, v in p.items() if k != "name") for p in param["part"]}
        else:
            value = next(v for k, v in param.items() if k != "name")
        found.setdefault(param["name"], []).append(value)
    return {k: v[0] if len(v) == 1 else v for k, v in found.items()}


def properties(resource: dict, code: str) -> list:
    """The values of the $lookup output properties with that code."""
    return [p["value"] for p in _all(resource, "property") if p["code"] == code]


def _all(resource: dict, name: str) -> list[dict]:
    return [{p["name"]: next(v for k, v in p.items() if k != "name") for p in param["part"]}
            for param in resource["parameter"] if param["name"] == name]
