"""US Core 5.0.1 profile validation (conformance.profiles) and `$validate` with profiles and invariants."""

from __future__ import annotations

import copy

import pytest

from conformance import Profiles

US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/"
PATIENT = US_CORE + "us-core-patient"
BLOOD_PRESSURE = US_CORE + "us-core-blood-pressure"
RACE = US_CORE + "us-core-race"
FHIR_JSON = {"content-type": "application/fhir+json"}
US_CORE_PATIENT = {
    "resourceType": "Patient",
    "meta": {"profile": [PATIENT]},
    "identifier": [{"system": "http://hospital.example.org/mrn", "value": "1032702"}],
    "name": [{"family": "Shaw", "given": ["Amy"]}],
    "gender": "female",
    "extension": [{"url": RACE, "extension": [
        {"url": "ombCategory", "valueCoding": {"system": "urn:oid:2.16.840.1.113883.6.238", "code": "2106-3"}},
        {"url": "text", "valueString": "White"}]}],
}
LOINC = "http://loinc.org"
BP = {
    "resourceType": "Observation", "status": "final",
    "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                              "code": "vital-signs"}]}],
    "code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
    "subject": {"reference": "Patient/example"}, "effectiveDateTime": "2026-11-20",
    "component": [
        {"code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
         "valueQuantity": {"value": 120, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}},
        {"code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
         "valueQuantity": {"value": 80, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}}],
}


@pytest.fixture(scope="module")
def profiles() -> Profiles:
    return Profiles(member=lambda value_set, system, code: code in {"2106-3", "F", "M"})


def problems(issues) -> set[tuple[str, str]]:
    return {(i.expression, i.diagnostics.split(" (")[0]) for i in issues if i.severity == "error"}


def test_the_supported_profiles(profiles):
    assert set(profiles.by_url) == {US_CORE + name for name in (
        "us-core-patient", "us-core-race", "us-core-ethnicity", "us-core-birthsex", "us-core-genderIdentity",
        "us-core-implantable-device", "us-core-blood-pressure", "us-core-medicationrequest")}
    assert profiles.knows(PATIENT) and profiles.knows(PATIENT + "|5.0.1") and not profiles.knows(PATIENT + "|3.1.1")


def test_a_conformant_patient_and_blood_pressure(profiles):
    assert profiles.validate(US_CORE_PATIENT, PATIENT) == []
    assert profiles.validate(BP, BLOOD_PRESSURE) == []


def test_cardinality_invariants_and_extensions_by_their_profile(profiles):
    patient = copy.deepcopy(US_CORE_PATIENT)
    del patient["identifier"], patient["gender"]
    patient["name"] = [{"text": "Amy Shaw"}]
    patient["extension"][0]["extension"].pop()  # race without its required `text`
    found = problems(profiles.validate(patient, PATIENT))
    assert ("Patient.identifier", "at least 1 required, found 0") in found
    assert ("Patient.gender", "at least 1 required, found 0") in found
    assert ("Patient.extension:race.extension:text", "at least 1 required, found 0") in found
    assert any(diagnostics.startswith("us-core-6") for _, diagnostics in found)


def test_slices_by_pattern_and_value(profiles):
    observation = copy.deepcopy(BP)
    observation["component"].pop()
    observation["category"][0]["coding"][0]["code"] = "laboratory"
    found = problems(profiles.validate(observation, BLOOD_PRESSURE))
    assert found == {("Observation.category:VSCat", "at least 1 required, found 0"),
                     ("Observation.component", "at least 2 required, found 1"),
                     ("Observation.component:diastolic", "at least 1 required, found 0")}


def test_fixed_values_and_required_bindings(profiles):
    observation = copy.deepcopy(BP)
    observation["component"][0]["valueQuantity"]["code"] = "mmHg"  # the profile fixes the UCUM code mm[Hg]
    assert ("Observation.component:systolic.value.code", "must be exactly mm[Hg]") in problems(
        profiles.validate(observation, BLOOD_PRESSURE))
    patient = copy.deepcopy(US_CORE_PATIENT)
    patient["extension"][0]["extension"][0]["valueCoding"]["code"] = "9999-9"
    assert any("not in the required value set" in d for _, d in problems(profiles.validate(patient, PATIENT)))


def test_wrong_type_and_unknown_profile(profiles):
    assert problems(profiles.validate(BP, PATIENT)) == {("Resource", f"{PATIENT} profiles Patient, not Observation")}
    assert profiles.validate(BP, "http://example.org/p")[0].code == "not-supported"


async def test_validate_operation_uses_meta_profile_parameter_and_invariants(client):
    ok = await client.post("/fhir/Patient/$validate", json=US_CORE_PATIENT, headers=FHIR_JSON)
    assert [i["severity"] for i in ok.json()["issue"]] == ["information"]
    bare = {k: v for k, v in US_CORE_PATIENT.items() if k not in ("meta", "identifier")}
    unasked = await client.post("/fhir/Patient/$validate", json=bare, headers=FHIR_JSON)
    assert [i["severity"] for i in unasked.json()["issue"]] == ["information"]
    asked = await client.post("/fhir/Patient/$validate", params={"profile": PATIENT}, json=bare, headers=FHIR_JSON)
    assert [i["expression"] for i in asked.json()["issue"]] == [["Patient.identifier"]]
    contact = await client.post("/fhir/Patient/$validate", json={**bare, "contact": [{"gender": "male"}]},
                                headers=FHIR_JSON)
    issue = contact.json()["issue"][0]
    assert (issue["severity"], issue["code"], issue["expression"]) == ("error", "invariant", ["Patient.contact"])
    assert issue["diagnostics"].startswith("pat-1")
    # an invariant is a $validate check; a write takes the resource as before
    created = await client.post("/fhir/Patient", json={**bare, "contact": [{"gender": "male"}]}, headers=FHIR_JSON)
    assert created.status_code == 201
