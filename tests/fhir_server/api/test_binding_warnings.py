"""Extensible and preferred bindings give warnings, never errors: in `$validate` and in the
OperationOutcome of a create or update under `Prefer: return=OperationOutcome`; required bindings
stay errors (https://hl7.org/fhir/R4/terminologies.html#strength)."""

from __future__ import annotations

from typing import Any

FHIR_JSON = {"content-type": "application/fhir+json"}
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"


def _observation(**extra: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final", "code": {"text": "Potassium"}, **extra}


def _issues(outcome: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((issue["severity"], issue.get("expression", [""])[0]) for issue in outcome["issue"]
                  if issue["code"] == "code-invalid")


async def test_validate_warns_of_codes_outside_extensible_and_preferred_bindings(client: Any) -> None:
    observation = _observation(
        category=[{"coding": [{"system": "http://example.org/local", "code": "lab"}]}],   # preferred
        interpretation=[{"coding": [{"system": "http://example.org/local", "code": "HIGH"}]},  # extensible
                        {"coding": [{"system": INTERPRETATION, "code": "H"}]},
                        {"text": "raised"}])
    response = await client.post("/fhir/Observation/$validate", json=observation, headers=FHIR_JSON)
    outcome = response.json()
    assert response.status_code == 200, outcome
    assert _issues(outcome) == [("warning", "Observation.category[0]"), ("warning", "Observation.interpretation[0]")]
    texts = {issue["diagnostics"] for issue in outcome["issue"] if issue["code"] == "code-invalid"}
    assert texts == {"no code from the preferred value set http://hl7.org/fhir/ValueSet/observation-category",
                     "no code from the extensible value set http://hl7.org/fhir/ValueSet/observation-interpretation"}
    assert any("no errors" in issue["diagnostics"] for issue in outcome["issue"])


async def test_codes_inside_the_value_sets_give_no_warning(client: Any) -> None:
    observation = _observation(category=[{"coding": [{"system": CATEGORY, "code": "laboratory"}]}],
                               interpretation=[{"coding": [{"system": INTERPRETATION, "code": "H"}]}])
    patient = {"resourceType": "Patient", "language": "en-US", "maritalStatus": {"text": "it's complicated"},
               "identifier": [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                                    "code": "MR"}]}, "value": "1"}]}
    for res_type, resource in (("Observation", observation), ("Patient", patient)):
        response = await client.post(f"/fhir/{res_type}/$validate", json=resource, headers=FHIR_JSON)
        assert response.status_code == 200 and _issues(response.json()) == [], response.text


async def test_bindings_in_data_types_and_inherited_elements_warn_too(client: Any) -> None:
    patient = {"resourceType": "Patient", "language": "tlh",
               "identifier": [{"type": {"coding": [{"system": "http://example.org/id-types", "code": "X"}]},
                               "value": "1"}]}
    response = await client.post("/fhir/Patient/$validate", json=patient, headers=FHIR_JSON)
    assert _issues(response.json()) == [("warning", "Patient.identifier[0].type"), ("warning", "Patient.language")]


async def test_required_bindings_are_still_errors(client: Any) -> None:
    response = await client.post("/fhir/Observation/$validate", json=_observation(status="done"), headers=FHIR_JSON)
    assert [issue["severity"] for issue in response.json()["issue"] if issue["code"] == "code-invalid"] == ["error"]
    response = await client.post("/fhir/Observation", json=_observation(status="done"), headers=FHIR_JSON)
    assert response.status_code == 422  # a valid structure with an invalid code


async def test_create_and_update_report_the_warnings_when_asked(client: Any) -> None:
    observation = _observation(category=[{"coding": [{"system": "http://example.org/local", "code": "lab"}]}])
    prefer = {**FHIR_JSON, "prefer": "return=OperationOutcome"}
    response = await client.post("/fhir/Observation", json=observation, headers=prefer)
    assert response.status_code == 201 and _issues(response.json()) == [("warning", "Observation.category[0]")]
    oid = response.headers["location"].split("/")[-3]
    response = await client.put(f"/fhir/Observation/{oid}", json={**observation, "id": oid}, headers=prefer)
    assert response.status_code == 200 and _issues(response.json()) == [("warning", "Observation.category[0]")]
    response = await client.post("/fhir/Observation", json=observation, headers=FHIR_JSON)
    assert response.status_code == 201 and response.json()["resourceType"] == "Observation"
