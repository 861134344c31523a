"""The token modifiers backed by the terminology service, over HTTP on SQLite and PostgreSQL:
`:in` / `:not-in` (a value set by canonical URL, implicit SNOMED CT value sets, a stored ValueSet by
reference) and `:above` / `:below` (the shipped SNOMED CT hierarchy, and a user's CodeSystem), with
the clinic data and a few more conditions (https://hl7.org/fhir/R4/search.html#token)."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_server.search import code_sets
from tests.fhir_server.api.test_search_clinic import LOINC, OBSERVATIONS, SNOMED, ids, load

GLUCOSE_VS = "http://example.org/fhir/ValueSet/glucose"
INFECTIONS = "http://example.org/fhir/CodeSystem/infections"


def _condition(cid: str, patient: str, system: str, code: str) -> dict[str, Any]:
    return {"resourceType": "Condition", "id": cid, "subject": {"reference": f"Patient/{patient}"},
            "code": {"coding": [{"system": system, "code": code}]}}


TERMINOLOGY: list[dict[str, Any]] = [
    {"resourceType": "ValueSet", "id": "glucose", "url": GLUCOSE_VS, "status": "active",
     "compose": {"include": [{"system": LOINC, "concept": [{"code": "2345-7"}, {"code": "2339-0"}]}]}},
    {"resourceType": "ValueSet", "id": "renal", "url": "http://example.org/fhir/ValueSet/renal", "version": "2",
     "status": "active", "compose": {"include": [{"system": LOINC, "concept": [{"code": "2160-0"},
                                                                                 {"code": "14682-9"}]}]}},
    {"resourceType": "ValueSet", "id": "empty", "url": "http://example.org/fhir/ValueSet/empty", "status": "active",
     "compose": {"include": [{"system": LOINC, "concept": [{"code": "1558-6"}]}]}},
    {"resourceType": "ValueSet", "id": "expanded-only", "url": "http://example.org/fhir/ValueSet/expanded-only",
     "status": "active", "expansion": {"timestamp": "2024-01-01", "contains": [{"system": LOINC, "code": "2345-7"}]}},
    {"resourceType": "CodeSystem", "id": "infections", "url": INFECTIONS, "status": "active", "content": "complete",
     "hierarchyMeaning": "is-a",
     "concept": [{"code": "infection", "concept": [
         {"code": "respiratory", "concept": [{"code": "pneumonia"}, {"code": "bronchitis"}]},
         {"code": "urinary", "concept": [{"code": "cystitis"}]}]}]},
    _condition("ckd3a", "pat2", SNOMED, "700378005"),      # CKD stage 3a < CKD stage 3 < CKD < kidney disease
    _condition("esrd", "pat4", SNOMED, "46177005"),        # ESRD < chronic renal failure < CKD and renal failure
    _condition("kidney", "pat3", SNOMED, "90708001"),      # kidney disease
    _condition("dm1", "pat3", SNOMED, "46635009"),         # type 1 diabetes < diabetes mellitus
    _condition("pneu", "pat4", INFECTIONS, "pneumonia"),
    _condition("cyst", "pat1", INFECTIONS, "cystitis"),
]


async def _load(client: Any) -> None:
    await load(client)
    for resource in TERMINOLOGY:
        response = await client.put(f"/fhir/{resource['resourceType']}/{resource['id']}", json=resource)
        assert response.status_code == 201, response.text


GLUCOSE = {"glu1", "glu2", "glu3", "glu4"}
CASES: list[tuple[str, list[tuple[str, str]], set[str]]] = [
    # :in and :not-in, by canonical URL (with and without version), by reference, implicit value sets
    ("Observation", [("code:in", GLUCOSE_VS)], GLUCOSE),
    ("Observation", [("code:in", "ValueSet/glucose")], GLUCOSE),
    ("Observation", [("code:in", "http://testserver/fhir/ValueSet/glucose")], GLUCOSE),
    ("Observation", [("code:in", "http://example.org/fhir/ValueSet/renal|2")], {"cr1", "cr2"}),
    ("Observation", [("code:in", f"{GLUCOSE_VS},ValueSet/renal")], GLUCOSE | {"cr1", "cr2"}),
    ("Observation", [("code:in", "http://example.org/fhir/ValueSet/empty")], set()),
    ("Observation", [("code:not-in", GLUCOSE_VS)], OBSERVATIONS - GLUCOSE),
    ("Observation", [("code:not-in", "http://example.org/fhir/ValueSet/empty")], OBSERVATIONS),
    ("Observation", [("code:in", GLUCOSE_VS), ("subject", "Patient/pat1")], {"glu1", "glu2"}),
    # LOINC is held in part: the implicit value set of all LOINC has only the codes held (not 72166-2)
    ("Observation", [("code:in", "http://loinc.org/vs"), ("subject", "Patient/pat4")], {"wt2", "cr1"}),
    ("Observation", [("status:in", "http://hl7.org/fhir/ValueSet/observation-status")], OBSERVATIONS),
    ("Observation", [("status:not-in", "http://hl7.org/fhir/ValueSet/observation-status")], set()),
    ("Patient", [("gender:in", "http://hl7.org/fhir/ValueSet/administrative-gender")],
     {"pat1", "pat2", "pat3", "pat4"}),
    ("Condition", [("code:in", "http://snomed.info/sct?fhir_vs=isa/73211009")], {"cond1", "dm1"}),
    ("Condition", [("code:not-in", "http://snomed.info/sct?fhir_vs=isa/73211009")],
     {"cond2", "cond3", "ckd3a", "esrd", "kidney", "pneu", "cyst"}),
    # :below and :above over the shipped SNOMED CT hierarchy (several parents included)
    ("Condition", [("code:below", f"{SNOMED}|73211009")], {"cond1", "dm1"}),
    ("Condition", [("code:below", f"{SNOMED}|44054006")], {"cond1"}),
    ("Condition", [("code:below", f"{SNOMED}|709044004")], {"ckd3a", "esrd"}),
    ("Condition", [("code:below", f"{SNOMED}|90708001")], {"ckd3a", "esrd", "kidney"}),
    ("Condition", [("code:below", f"{SNOMED}|42399005")], {"esrd"}),
    ("Condition", [("code:above", f"{SNOMED}|700378005")], {"ckd3a", "kidney"}),
    ("Condition", [("code:above", f"{SNOMED}|313436004")], {"cond1"}),
    ("Condition", [("code:below", f"{SNOMED}|38341003")], {"cond2"}),  # a code outside the subset: itself
    ("Condition", [("code:below", f"{SNOMED}|73211009,{SNOMED}|271737000")], {"cond1", "dm1", "cond3"}),
    # a user's CodeSystem with a hierarchy
    ("Condition", [("code:below", f"{INFECTIONS}|respiratory")], {"pneu"}),
    ("Condition", [("code:below", f"{INFECTIONS}|infection")], {"pneu", "cyst"}),
    ("Condition", [("code:above", f"{INFECTIONS}|cystitis")], {"cyst"}),
    # inside chains and _has
    ("Patient", [("_has:Condition:subject:code:below", f"{SNOMED}|73211009")], {"pat1", "pat3"}),
    ("Observation", [("subject:Patient._has:Condition:subject:code:below", f"{SNOMED}|709044004"),
                     ("code:in", GLUCOSE_VS)], {"glu3"}),
]


async def test_terminology_modifiers_match_exactly(client: Any) -> None:
    await _load(client)
    failures = []
    for res_type, params, expected in CASES:
        response = await client.get(f"/fhir/{res_type}", params=[*params, ("_count", "100")])
        found: set[str] | str = ids(response.json()) if response.status_code == 200 else response.text[:300]
        if found != expected:
            failures.append(f"{res_type}?{params}: expected {sorted(expected)}, got {found}")
    assert not failures, "\n".join(failures)


async def test_terminology_modifiers_page_and_count(client: Any) -> None:
    await _load(client)
    params = {"code:not-in": GLUCOSE_VS, "_count": "5"}
    response = await client.get("/fhir/Observation", params=params)
    bundle, found = response.json(), set()
    found |= ids(bundle)
    while next_link := [link["url"] for link in bundle["link"] if link["relation"] == "next"]:
        bundle = (await client.get(next_link[0].replace("http://testserver", ""))).json()
        found |= ids(bundle)
    assert found == OBSERVATIONS - GLUCOSE
    response = await client.get("/fhir/Observation", params={"code:in": GLUCOSE_VS, "_summary": "count"})
    assert response.json()["total"] == len(GLUCOSE)


async def test_a_value_set_written_later_is_searchable_at_once(client: Any) -> None:
    await _load(client)
    url = "http://example.org/fhir/ValueSet/vitals"
    value_set = {"resourceType": "ValueSet", "id": "vitals", "url": url, "status": "active",
                 "compose": {"include": [{"system": LOINC, "concept": [{"code": "8867-4"}]}]}}
    assert (await client.put("/fhir/ValueSet/vitals", json=value_set)).status_code == 201
    assert ids((await client.get("/fhir/Observation", params={"code:in": url})).json()) == {"hr1", "hr2"}
    value_set["compose"]["include"][0]["concept"].append({"code": "8310-5"})
    assert (await client.put("/fhir/ValueSet/vitals", json=value_set)).status_code == 200
    assert ids((await client.get("/fhir/Observation", params={"code:in": "ValueSet/vitals"})).json()) == {
        "hr1", "hr2", "temp1", "temp2"}
    assert (await client.delete("/fhir/ValueSet/vitals")).status_code in (200, 204)
    response = await client.get("/fhir/Observation", params={"code:in": url})
    assert response.status_code == 400


BAD: list[tuple[str, list[tuple[str, str]], str]] = [
    ("Observation", [("code:in", "http://example.org/fhir/ValueSet/nope")], "nope"),
    ("Observation", [("code:not-in", "ValueSet/nope")], "ValueSet/nope"),
    ("Observation", [("code:in", "http://example.org/fhir/ValueSet/renal|9")], "renal|9"),
    ("Observation", [("code:in", "http://example.org/fhir/ValueSet/expanded-only")], "compose"),
    ("Condition", [("code:below", "73211009")], "system|code"),
    ("Condition", [("code:above", f"{SNOMED}|")], "system|code"),
    ("Condition", [("code:below", "http://example.org/no-such-system|x")], "no-such-system"),
    ("Patient", [("_id:in", GLUCOSE_VS)], "_id"),
    ("Location", [("partof:below", "Location/1")], "below"),
]


async def test_unknown_or_unusable_value_sets_are_400(client: Any) -> None:
    await _load(client)
    failures = []
    for res_type, params, named in BAD:
        response = await client.get(f"/fhir/{res_type}", params=params)
        body = response.json()
        diagnostics = body.get("issue", [{}])[0].get("diagnostics", "")
        if response.status_code != 400 or body.get("resourceType") != "OperationOutcome" or named not in diagnostics:
            failures.append(f"{res_type}?{params}: {response.status_code} {response.text[:300]}")
        elif params[0][0].endswith((":in", ":not-in", ":below", ":above")) and params[0][0] not in diagnostics \
                and "system|code" not in diagnostics:
            failures.append(f"{res_type}?{params}: the outcome does not name the parameter: {diagnostics}")
    assert not failures, "\n".join(failures)


async def test_a_value_set_past_the_limit_is_400(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    await _load(client)
    monkeypatch.setattr(code_sets, "MAX_CODES", 3)
    response = await client.get("/fhir/Observation",
                                params={"code:in": "http://hl7.org/fhir/ValueSet/observation-status"})
    assert response.status_code == 400
    issue = response.json()["issue"][0]
    assert issue["code"] == "too-costly" and "code:in" in issue["diagnostics"] and "3 codes" in issue["diagnostics"]
    response = await client.get("/fhir/Observation", params={"code:in": GLUCOSE_VS})
    assert response.status_code == 200 and ids(response.json()) == GLUCOSE


async def test_lenient_handling_does_not_hide_a_bad_value_set(client: Any) -> None:
    response = await client.get("/fhir/Observation", params={"code:in": "http://example.org/fhir/ValueSet/nope"},
                                headers={"prefer": "handling=lenient"})
    assert response.status_code == 400


async def test_the_capability_statement_claims_the_modifiers_that_work(client: Any) -> None:
    await _load(client)
    statement = (await client.get("/fhir/metadata")).json()
    resources = {item["type"]: item for item in statement["rest"][0]["resource"]}
    condition = {param["name"]: param for param in resources["Condition"]["searchParam"]}
    claimed = condition["code"]["documentation"]
    assert all(f":{modifier}," in claimed + "," for modifier in ("in", "not-in", "above", "below", "not", "text"))
    location = {param["name"]: param for param in resources["Location"]["searchParam"]}
    assert ":below" not in location["partof"]["documentation"] and ":[type]" in location["partof"]["documentation"]
    values = {"in": GLUCOSE_VS, "not-in": GLUCOSE_VS, "above": f"{SNOMED}|700378005", "below": f"{SNOMED}|73211009",
              "not": f"{SNOMED}|73211009", "text": "diabetes", "missing": "false"}
    for modifier in claimed.removeprefix("Modifiers: ").replace(":", "").split(", "):
        response = await client.get("/fhir/Condition", params={f"code:{modifier}": values[modifier]})
        assert response.status_code == 200, f"code:{modifier}: {response.text[:300]}"


async def test_conditional_writes_resolve_terminology_modifiers(client: Any) -> None:
    await _load(client)
    criteria = f"code:in={GLUCOSE_VS}&subject=Patient/pat1"
    existing = (await client.get(f"/fhir/Observation?{criteria}")).json()
    assert existing["total"] == 2, existing
    new = {"resourceType": "Observation", "status": "final", "subject": {"reference": "Patient/pat1"},
           "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7"}]}}
    several = await client.post("/fhir/Observation", json=new, headers={"if-none-exist": criteria})
    assert several.status_code == 412, several.text
    one = existing["entry"][0]["resource"]["id"]
    kept = await client.post("/fhir/Observation", json=new, headers={"if-none-exist": f"{criteria}&_id={one}"})
    assert kept.status_code == 200, kept.text  # the glucose value set matches the one there is
    missing = await client.post("/fhir/Observation", json=new,
                                headers={"if-none-exist": "code:in=http://example.org/fhir/ValueSet/empty"})
    assert missing.status_code == 201, missing.text
    refused = await client.post("/fhir/Observation", json=new,
                                headers={"if-none-exist": "code:in=http://example.org/fhir/ValueSet/unknown"})
    assert refused.status_code == 400 and refused.json()["resourceType"] == "OperationOutcome"
