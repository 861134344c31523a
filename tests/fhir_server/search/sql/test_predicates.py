"""Queries of every parameter type, prefix and modifier against the sample store, on both databases."""

from __future__ import annotations

import pytest

from tests.fhir_server.search.sql.store import Store

pytestmark = pytest.mark.asyncio(loop_scope="module")

Case = tuple[str, list[tuple[str, str]], set[str]]

STRING: list[Case] = [
    ("Patient", [("name", "ann")], {"p1"}),  # p4 is deleted
    ("Patient", [("name", "ANN")], {"p1"}),
    ("Patient", [("name", "mull")], {"p1"}),
    ("Patient", [("name", "Müller")], {"p1"}),
    ("Patient", [("family", "O'Brien")], {"p2"}),
    ("Patient", [("family", "obr")], {"p2"}),
    ("Patient", [("family", "duval")], set()),  # starts-with only
    ("Patient", [("family:contains", "DUVAL")], {"p3"}),
    ("Patient", [("name:exact", "Müller")], {"p1"}),
    ("Patient", [("name:exact", "muller")], set()),
    ("Patient", [("given", "ann,bob")], {"p1", "p2"}),
    ("Patient", [("given", "ann"), ("family", "obrien")], set()),
    ("Patient", [("given", "chloe")], {"p3"}),
    ("Patient", [("address-city", "zur")], {"p1"}),
    ("Patient", [("address", "ch")], {"p1", "p2"}),
    ("Patient", [("address-postalcode", "8001")], {"p1"}),
    ("Patient", [("name", r"ann\,marie")], set()),
    ("Observation", [("value-string", "former")], {"o4"}),
]

TOKEN: list[Case] = [
    ("Patient", [("gender", "female")], {"p1", "p3"}),
    ("Patient", [("gender", "|female")], {"p1", "p3"}),
    ("Patient", [("gender:not", "female")], {"p2"}),
    ("Patient", [("identifier", "123")], {"p1", "p3"}),
    ("Patient", [("identifier", "http://hospital.example/mrn|123")], {"p1"}),
    ("Patient", [("identifier", "http://hospital.example/mrn|")], {"p1", "p2"}),
    ("Patient", [("identifier", "|123")], set()),
    ("Patient", [("identifier:of-type", "http://terminology.hl7.org/CodeSystem/v2-0203|MR|123")], {"p1"}),
    ("Patient", [("identifier:of-type", "http://terminology.hl7.org/CodeSystem/v2-0203|MR|456")], set()),
    ("Patient", [("identifier:text", "record")], {"p1"}),
    ("Patient", [("active", "true")], {"p1"}),
    ("Patient", [("active", "false")], {"p2"}),
    ("Patient", [("deceased", "true")], {"p2"}),
    ("Patient", [("deceased", "false")], {"p1", "p3"}),
    ("Patient", [("email", "ann@example.org")], {"p1"}),
    ("Patient", [("phone", "+41 44 123 45 67")], {"p1"}),
    ("Patient", [("telecom", "email|ann@example.org")], {"p1"}),
    ("Patient", [("telecom:missing", "true")], {"p2", "p3"}),
    ("Patient", [("telecom:missing", "false")], {"p1"}),
    ("Patient", [("_tag", "http://example.org/tags|import")], {"p1"}),
    ("Observation", [("code", "29463-7")], {"o1", "o3", "o5", "o6"}),
    ("Observation", [("code", "http://loinc.org|4548-4")], {"o2"}),
    ("Observation", [("code", "http://snomed.info/sct|29463-7")], set()),
    ("Observation", [("code:text", "body")], {"o1", "o3"}),
    ("Observation", [("code:text", "weight")], {"o1", "o3"}),
    ("Observation", [("code:text", "hemoglobin")], {"o2"}),
    ("Observation", [("code:not", "29463-7")], {"o2", "o4"}),
    ("Observation", [("code:not", "29463-7,4548-4")], {"o4"}),
    ("Observation", [("status", "amended,preliminary")], {"o3", "o4"}),
    ("Observation", [("category", "vital-signs")], {"o1"}),
    ("Observation", [("value-concept", "http://snomed.info/sct|8517006")], {"o4"}),
    ("Observation", [("value-concept:text", "smoker")], {"o4"}),
    ("Encounter", [("class", "AMB")], {"e1"}),
]

DATE: list[Case] = [
    ("Observation", [("date", "2024-03-05")], {"o1"}),
    ("Observation", [("date", "2024-03-05T08:30:00Z")], {"o1"}),
    ("Observation", [("date", "2024-03-05T09:30:00+01:00")], {"o1"}),
    ("Observation", [("date", "2024-03")], {"o1", "o5"}),
    ("Observation", [("date", "2024")], {"o1", "o3", "o5"}),
    ("Observation", [("date", "eq2024")], {"o1", "o3", "o5"}),
    ("Observation", [("date", "ne2024")], {"o2", "o4"}),
    ("Observation", [("date", "gt2024-03")], {"o3"}),
    ("Observation", [("date", "lt2024-03")], {"o2", "o4"}),
    ("Observation", [("date", "ge2024-03")], {"o1", "o3", "o5"}),
    ("Observation", [("date", "le2024-03")], {"o1", "o2", "o4", "o5"}),
    ("Observation", [("date", "sa2023-12-01")], {"o1", "o3", "o5"}),
    ("Observation", [("date", "eb2024-01")], {"o2", "o4"}),
    ("Observation", [("date", "2021")], set()),  # the 2020-2022 period is not inside 2021
    ("Observation", [("date", "ge2021")], {"o1", "o2", "o3", "o4", "o5"}),
    ("Observation", [("date", "ge2024-03"), ("date", "lt2024-04")], {"o1", "o5"}),
    ("Observation", [("date", "2023-12,2024-04")], {"o2", "o3"}),
    ("Encounter", [("date", "ge2024-06")], {"e2"}),  # open-ended period
    ("Encounter", [("date", "lt2024-04")], {"e1"}),
    ("Encounter", [("date", "2024-03-05T10:00:00Z")], set()),  # a 4-hour visit is not inside one second
    ("Encounter", [("date", "le2024-03-05T10:00:00Z")], {"e1"}),
    ("Patient", [("birthdate", "1974")], {"p1"}),
    ("Patient", [("birthdate", "1980-06-15")], set()),
    ("Patient", [("birthdate", "1980")], {"p2"}),
    ("Patient", [("birthdate", "gt2000")], {"p3"}),
    ("Patient", [("birthdate", "lt1980-06-01")], {"p1"}),
    ("Patient", [("death-date", "2020-01-01")], {"p2"}),
    ("Patient", [("_lastUpdated", "gt2024-01-15")], {"p2", "p3"}),
    ("Patient", [("_lastUpdated", "2024-02")], {"p2"}),
    ("Patient", [("_lastUpdated", "le2024-02-01")], {"p1", "p2"}),
    ("Patient", [("_lastUpdated", "ne2024-02")], {"p1", "p3"}),
]

NUMBER_AND_QUANTITY: list[Case] = [
    ("RiskAssessment", [("probability", "0.25")], {"r1"}),
    ("RiskAssessment", [("probability", "0.2")], set()),
    ("RiskAssessment", [("probability", "0.3")], {"r1"}),  # 0.3 stands for [0.25, 0.35)
    ("RiskAssessment", [("probability", "gt0.5")], {"r2"}),
    ("RiskAssessment", [("probability", "lt0.5")], {"r1"}),
    ("RiskAssessment", [("probability", "ge0.8")], {"r2"}),
    ("RiskAssessment", [("probability", "le0.25")], {"r1"}),
    ("RiskAssessment", [("probability", "ne0.25")], {"r2"}),
    ("RiskAssessment", [("probability", "sa0.5")], {"r2"}),
    ("RiskAssessment", [("probability", "eb0.5")], {"r1"}),
    ("RiskAssessment", [("probability", "ap0.75")], {"r2"}),
    ("Observation", [("value-quantity", "72.5")], {"o1"}),
    ("Observation", [("value-quantity", "72.5|http://unitsofmeasure.org|kg")], {"o1"}),
    ("Observation", [("value-quantity", "72.5|http://unitsofmeasure.org|g")], set()),
    ("Observation", [("value-quantity", "gt50|http://unitsofmeasure.org|kg")], {"o1", "o3"}),
    ("Observation", [("value-quantity", "gt50")], {"o1", "o3", "o5"}),
    ("Observation", [("value-quantity", "100||lb")], {"o5"}),
    ("Observation", [("value-quantity", "100||[lb_av]")], {"o5"}),
    ("Observation", [("value-quantity", "lt10")], {"o2"}),
    ("Observation", [("value-quantity", "90.0")], {"o3"}),
    ("Observation", [("value-quantity", "ap70||kg")], {"o1"}),
    ("Observation", [("value-quantity", "ne72.5")], {"o2", "o3", "o5"}),
    ("Observation", [("value-quantity", "le6.1,ge100")], {"o2", "o5"}),
    ("Observation", [("value-quantity:missing", "true")], {"o4", "o6"}),
    ("Encounter", [("length", "4|http://unitsofmeasure.org|h")], {"e1"}),
]

REFERENCE_AND_URI: list[Case] = [
    ("Observation", [("subject", "Patient/p1")], {"o1", "o2"}),  # o2 refers to a version of p1
    ("Observation", [("subject", "p1")], {"o1", "o2"}),
    ("Observation", [("subject:Patient", "p1")], {"o1", "o2"}),
    ("Observation", [("subject:Group", "p1")], set()),
    ("Observation", [("subject", "Patient/p1/_history/1")], {"o2"}),
    ("Observation", [("subject", "Group/g1")], {"o5"}),
    ("Observation", [("patient", "Patient/p2,Patient/p3")], {"o3", "o4"}),
    ("Observation", [("patient", "g1")], set()),
    ("Observation", [("subject:identifier", "http://other.example/ids|123")], {"o4"}),
    ("Observation", [("encounter:missing", "true")], {"o2", "o4", "o5", "o6"}),
    ("Observation", [("encounter:missing", "false")], {"o1", "o3"}),
    ("Patient", [("organization", "http://other.example/fhir/Organization/x9")], {"p3"}),
    ("Patient", [("organization", "Organization/org1")], {"p1", "p2"}),
    ("Patient", [("general-practitioner", "Practitioner/dr1")], {"p1"}),
    ("Observation", [("_profile", "http://hl7.org/fhir/StructureDefinition/vitalsigns")], {"o1", "o3"}),
    ("Observation", [("_profile", "http://hl7.org/fhir/StructureDefinition/vitals")], set()),
    ("Observation", [("_profile:below", "http://hl7.org/fhir/StructureDefinition/")], {"o1", "o3"}),
    ("Observation", [("_profile:below", "http://hl7.org/fhir/structuredefinition/")], set()),  # case-sensitive
    ("Observation", [("_profile:above", "http://hl7.org/fhir/StructureDefinition/vitalsigns/more")], {"o1", "o3"}),
    ("Observation", [("_profile:above", "http://hl7.org/fhir/")], set()),
    ("Patient", [("_id", "p1,p3")], {"p1", "p3"}),
    ("Patient", [("_id", "p4")], set()),  # deleted
    ("Patient", [("_id:not", "p1")], {"p2", "p3"}),
    ("Patient", [("_id:missing", "true")], set()),
    ("Patient", [("_id:missing", "false")], {"p1", "p2", "p3"}),
]

CHAIN_AND_HAS: list[Case] = [
    ("Observation", [("subject:Patient.name", "ann")], {"o1", "o2"}),  # o6's patient is deleted
    ("Observation", [("subject.name", "ann")], {"o1", "o2"}),
    ("Observation", [("subject:Patient.birthdate", "lt1990")], {"o1", "o2", "o3"}),
    ("Observation", [("subject:Patient.gender", "female")], {"o1", "o2", "o4"}),
    ("Observation", [("subject:Patient.gender:not", "female")], {"o3"}),  # a negation inside a chain
    ("Observation", [("patient.identifier", "http://hospital.example/mrn|456")], {"o3"}),
    ("Observation", [("subject:Patient.organization.name", "general")], {"o1", "o2", "o3"}),
    ("Observation", [("subject:Patient.organization:Organization.name:exact", "General Hospital")],
     {"o1", "o2", "o3"}),
    ("Observation", [("subject:Patient.general-practitioner:Practitioner.family", "house")], {"o1", "o2"}),
    ("Observation", [("encounter.status", "finished")], {"o1"}),
    ("Observation", [("subject:Patient.name", "ann"), ("code", "4548-4")], {"o2"}),
    ("Observation", [("subject:Patient._has:Encounter:subject:status", "in-progress")], {"o3"}),
    ("Observation", [("subject._has:Encounter:subject:status", "in-progress")], {"o3"}),
    ("Encounter", [("subject:Patient.name", "bob")], {"e2"}),
    ("Patient", [("_has:Observation:patient:code", "29463-7")], {"p1", "p2"}),
    ("Patient", [("_has:Observation:patient:code", "72166-2")], {"p3"}),
    ("Patient", [("_has:Observation:patient:code:not", "29463-7")], {"p1", "p3"}),  # o2, o4
    ("Patient", [("_has:Observation:subject:value-quantity", "gt80")], {"p2"}),
    ("Patient", [("_has:Observation:patient:status", "amended"), ("gender", "female")], {"p3"}),
    ("Patient", [("_has:Encounter:subject:_has:Observation:encounter:code", "29463-7")], {"p1", "p2"}),
    ("Patient", [("_has:Encounter:subject:_has:Observation:encounter:status", "preliminary")], {"p2"}),
    ("Patient", [("_has:Observation:patient:subject:Patient.gender", "male")], {"p2"}),
    ("Organization", [("_has:Patient:organization:gender", "male")], {"org1"}),
    ("Practitioner", [("_has:Patient:general-practitioner:name", "ann")], {"dr1"}),
    ("Practitioner", [("_has:Patient:general-practitioner:name", "bob")], set()),
]


def _ids(cases: list[Case]) -> list[str]:
    return ["&".join(f"{name}={value}" for name, value in pairs) for _, pairs, _ in cases]


async def _check(store: Store, resource_type: str, pairs: list[tuple[str, str]], expected: set[str]) -> None:
    assert await store.search(resource_type, *pairs) == expected


@pytest.mark.parametrize(("resource_type", "pairs", "expected"), STRING, ids=_ids(STRING))
async def test_string(store: Store, resource_type: str, pairs: list[tuple[str, str]], expected: set[str]) -> None:
    await _check(store, resource_type, pairs, expected)


@pytest.mark.parametrize(("resource_type", "pairs", "expected"), TOKEN, ids=_ids(TOKEN))
async def test_token(store: Store, resource_type: str, pairs: list[tuple[str, str]], expected: set[str]) -> None:
    await _check(store, resource_type, pairs, expected)


@pytest.mark.parametrize(("resource_type", "pairs", "expected"), DATE, ids=_ids(DATE))
async def test_date(store: Store, resource_type: str, pairs: list[tuple[str, str]], expected: set[str]) -> None:
    await _check(store, resource_type, pairs, expected)


@pytest.mark.parametrize(("resource_type", "pairs", "expected"), NUMBER_AND_QUANTITY, ids=_ids(NUMBER_AND_QUANTITY))
async def test_number_and_quantity(store: Store, resource_type: str, pairs: list[tuple[str, str]],
                                   expected: set[str]) -> None:
    await _check(store, resource_type, pairs, expected)


@pytest.mark.parametrize(("resource_type", "pairs", "expected"), REFERENCE_AND_URI, ids=_ids(REFERENCE_AND_URI))
async def test_reference_uri_and_id(store: Store, resource_type: str, pairs: list[tuple[str, str]],
                                    expected: set[str]) -> None:
    await _check(store, resource_type, pairs, expected)


@pytest.mark.parametrize(("resource_type", "pairs", "expected"), CHAIN_AND_HAS, ids=_ids(CHAIN_AND_HAS))
async def test_chain_and_has(store: Store, resource_type: str, pairs: list[tuple[str, str]],
                             expected: set[str]) -> None:
    await _check(store, resource_type, pairs, expected)


async def test_no_criteria_lists_the_current_resources_of_the_type(store: Store) -> None:
    assert await store.search("Patient") == {"p1", "p2", "p3"}
    assert await store.search("Observation", ("_count", "1")) == {"o1", "o2", "o3", "o4", "o5", "o6"}
