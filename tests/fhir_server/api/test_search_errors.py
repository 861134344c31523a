"""Every malformed or unsupported search is answered with 400 (or 404/415 where HTTP says so) and an
OperationOutcome naming the problem; never a 500."""

from __future__ import annotations

from typing import Any

BAD: list[tuple[str, list[tuple[str, str]], str]] = [
    ("/fhir/Patient", [("colour", "red")], "colour"),
    ("/fhir/Patient", [("name:fuzzy", "x")], "fuzzy"),
    ("/fhir/Patient", [("birthdate", "1984-13-01")], "birthdate"),
    ("/fhir/Patient", [("birthdate", "yesterday")], "birthdate"),
    ("/fhir/Patient", [("birthdate", "gt")], "birthdate"),
    ("/fhir/Observation", [("value-quantity", "abc|http://unitsofmeasure.org|mg")], "value-quantity"),
    ("/fhir/Observation", [("value-quantity", "5|a|b|c")], "value-quantity"),
    ("/fhir/Observation", [("code", "a|b|c")], "code"),
    ("/fhir/Observation", [("code:in", "http://example.org/vs")], "in"),
    ("/fhir/Observation", [("subject", "")], "never"),  # an empty value is ignored: see below
    ("/fhir/Observation", [("subject:Device", "Patient/1")], "Device"),
    ("/fhir/Observation", [("subject.colour", "x")], "colour"),
    ("/fhir/Observation", [("code.text", "x")], "chained"),
    ("/fhir/Observation", [("component-code-value-quantity", "8480-6")], "component-code-value-quantity"),
    ("/fhir/Observation", [("component-code-value-quantity", "8480-6$high")], "component-code-value-quantity"),
    ("/fhir/Observation", [("value-quantity:missing", "maybe")], "missing"),
    ("/fhir/Patient", [("_has:Observation:patient", "x")], "_has"),
    ("/fhir/Patient", [("_has:Nope:patient:code", "x")], "Nope"),
    ("/fhir/Patient", [("_has:Observation:code:code", "x")], "code"),
    ("/fhir/Location", [("near", "42.25|-83.69|10|km")], "near"),
    ("/fhir/Patient", [("_query", "everything")], "_query"),
    ("/fhir/Patient", [("_filter", "name eq x")], "_filter"),
    ("/fhir/Patient", [("_type", "Patient")], "_type"),
    ("/fhir/Patient", [("_list", "$current-allergies")], "functional"),
    ("/fhir/Patient", [("_text:exact", "x")], "_text"),
    ("/fhir/Patient", [("_count", "-1")], "_count"),
    ("/fhir/Patient", [("_count", "many")], "_count"),
    ("/fhir/Patient", [("_sort", "colour")], "colour"),
    ("/fhir/Patient", [("_sort", "general-practitioner")], "general-practitioner"),
    ("/fhir/Patient", [("_summary", "brief")], "_summary"),
    ("/fhir/Patient", [("_summary", "true"), ("_elements", "name")], "_elements"),
    ("/fhir/Patient", [("_total", "some")], "_total"),
    ("/fhir/Patient", [("_contained", "true")], "_contained"),
    ("/fhir/Patient", [("_cursor", "garbage!")], "_cursor"),
    ("/fhir/Patient", [("_cursor", "eyJzIjoiIiwiayI6W10sInAiOiJ4In0")], "_cursor"),
    ("/fhir/Patient", [("_include", "Patient")], "_include"),
    ("/fhir/Patient", [("_include", "Patient:name")], "name"),
    ("/fhir/Patient", [("_include:deep", "Patient:organization")], "deep"),
    ("/fhir/Patient", [("_revinclude", "Nope:subject")], "Nope"),
    ("/fhir", [("_type", "Patient,Nope")], "Nope"),
    ("/fhir", [("identifier", "x")], "identifier"),
    ("/fhir", [("subject.name", "x")], "chains"),
    ("/fhir/Patient/p1/Nope", [], "Nope"),
    ("/fhir/Patient/p1/Medication", [], "Medication"),
    ("/fhir/Encounter/e1/Observation", [], "Patient compartment"),
]


async def test_bad_searches_are_400_with_an_outcome(client: Any) -> None:
    failures = []
    for url, params, named in BAD:
        if named == "never":
            continue
        response = await client.get(url, params=params)
        body = response.json()
        if (response.status_code not in (400, 404) or body.get("resourceType") != "OperationOutcome"
                or named not in body["issue"][0]["diagnostics"]):
            failures.append(f"{url}?{params}: {response.status_code} {response.text[:300]}")
    assert not failures, "\n".join(failures)


async def test_unknown_types_are_404_and_bad_forms_415(client: Any) -> None:
    response = await client.get("/fhir/Nope", params={"name": "x"})
    assert response.status_code == 404 and response.json()["resourceType"] == "OperationOutcome"
    response = await client.post("/fhir/Patient/_search", content=b"{}", headers={"content-type": "application/json"})
    assert response.status_code == 415 and response.json()["resourceType"] == "OperationOutcome"


async def test_odd_but_valid_input_is_no_error(client: Any) -> None:
    for params in ([("name", "")], [("name", ",")], [("name", "%_\\\\")], [("_count", "100000")],
                   [("name", "a" * 400)], [("birthdate", "ge1900"), ("birthdate", "le2100")],
                   [("identifier", "|")], [("_sort", "-_lastUpdated,_id")]):
        response = await client.get("/fhir/Patient", params=params)
        assert response.status_code in (200, 400), (params, response.text)
        assert response.json()["resourceType"] in ("Bundle", "OperationOutcome")
