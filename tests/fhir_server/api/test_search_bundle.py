"""The searchset Bundle: links and keyset paging, totals, _summary and _elements, includes, lenient handling."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fhir_server.api.test_search_clinic import OBSERVATIONS, ids, load


def link(bundle: dict[str, Any], relation: str) -> str | None:
    return next((item["url"] for item in bundle["link"] if item["relation"] == relation), None)


def local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def get(client: Any, url: str, **params: str) -> dict[str, Any]:
    response = await client.get(url, params=params or None)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    return response.json()


async def test_entries_carry_full_urls_and_the_stored_bytes(client: Any) -> None:
    await load(client)
    bundle = await get(client, "/fhir/Observation", _id="glu2")
    entry = bundle["entry"][0]
    assert entry["fullUrl"] == "http://testserver/fhir/Observation/glu2"
    assert entry["search"] == {"mode": "match"}
    read = (await client.get("/fhir/Observation/glu2")).json()
    assert entry["resource"] == read and entry["resource"]["valueQuantity"]["value"] == 5400
    assert link(bundle, "self") == "http://testserver/fhir/Observation?_id=glu2"


async def test_paging_forward_and_back_with_sort_keys(client: Any) -> None:
    await load(client)
    seen: list[str] = []
    pages: list[str] = []
    bundle = await get(client, "/fhir/Observation", _sort="-date,_id", _count="5")
    assert link(bundle, "previous") is None and "total" not in bundle  # more than one page: no free total
    while True:
        pages.append(link(bundle, "self") or "")
        seen.extend(entry["resource"]["id"] for entry in bundle["entry"])
        following = link(bundle, "next")
        if following is None:
            break
        bundle = await get(client, local(following))
        assert link(bundle, "previous") is not None
    assert len(seen) == len(OBSERVATIONS) == len(set(seen)) and len(pages) == 4
    dates = [(await get(client, f"/fhir/Observation/{oid}"))["effectiveDateTime"] for oid in seen[:3]]
    assert seen[0] == "glu2" and dates == sorted(dates, reverse=True)
    # back from the last page to the first, page by page, in the same order
    back: list[str] = []
    while (previous := link(bundle, "previous")) is not None:
        bundle = await get(client, local(previous))
        back = [entry["resource"]["id"] for entry in bundle["entry"]] + back
    assert back == seen[:len(back)] and len(back) == 15


async def test_pages_stay_stable_while_resources_are_written(client: Any) -> None:
    await load(client)
    bundle = await get(client, "/fhir/Observation", _sort="date", _count="4")
    seen = [entry["resource"]["id"] for entry in bundle["entry"]]
    # written between pages: one sorting before the cursor, one after; an earlier match deleted
    early = {"resourceType": "Observation", "id": "new-early", "status": "final", "code": {"text": "x"},
             "effectiveDateTime": "2000-01-01"}
    late = {**early, "id": "new-late", "effectiveDateTime": "2030-01-01"}
    for resource in (early, late):
        assert (await client.put(f"/fhir/Observation/{resource['id']}", json=resource)).status_code == 201
    assert (await client.delete(f"/fhir/Observation/{seen[0]}")).status_code == 204
    while (following := link(bundle, "next")) is not None:
        bundle = await get(client, local(following))
        seen.extend(entry["resource"]["id"] for entry in bundle["entry"])
    assert len(seen) == len(set(seen)) == len(OBSERVATIONS) + 1
    assert "new-early" not in seen and seen[-1] == "new-late"


async def test_totals(client: Any) -> None:
    await load(client)
    assert (await get(client, "/fhir/Observation", code="2345-7"))["total"] == 3  # one page: free
    assert "total" not in await get(client, "/fhir/Observation", _count="2")
    assert (await get(client, "/fhir/Observation", _count="2", _total="accurate"))["total"] == len(OBSERVATIONS)
    assert (await get(client, "/fhir/Observation", _count="2", _total="estimate"))["total"] > 0
    assert "total" not in await get(client, "/fhir/Observation", code="2345-7", _total="none")
    counted = await get(client, "/fhir/Observation", category="laboratory", _summary="count")
    assert counted["total"] == 8 and "entry" not in counted
    zero = await get(client, "/fhir/Observation", _count="0")
    assert zero["total"] == len(OBSERVATIONS) and "entry" not in zero


async def test_summary_and_elements_reshape_entries(client: Any) -> None:
    await load(client)
    bundle = await get(client, "/fhir/Patient", _id="pat1", _elements="gender")
    patient = bundle["entry"][0]["resource"]
    assert patient["gender"] == "female" and "name" not in patient and "birthDate" not in patient
    assert any(tag["code"] == "SUBSETTED" for tag in patient["meta"]["tag"])
    summary = (await get(client, "/fhir/Patient", _id="pat1", _summary="true"))["entry"][0]["resource"]
    assert "name" in summary and "text" not in summary
    text = (await get(client, "/fhir/Patient", _id="pat1", _summary="text"))["entry"][0]["resource"]
    assert "text" in text and "name" not in text
    data = (await get(client, "/fhir/Patient", _id="pat1", _summary="data"))["entry"][0]["resource"]
    assert "text" not in data and "name" in data


async def test_include_revinclude_iterate_and_wildcards(client: Any) -> None:
    await load(client)
    bundle = await get(client, "/fhir/Observation", code="718-7", _include="Observation:subject")
    assert ids(bundle) == {"hb1"} and ids(bundle, "include") == {"pat2"}
    bundle = await get(client, "/fhir/Patient", _id="pat2", _revinclude="Condition:subject")
    assert ids(bundle) == {"pat2"} and ids(bundle, "include") == {"cond2", "cond3"}
    # DiagnosticReport -> its results -> their encounters (iterate)
    response = await client.get("/fhir/DiagnosticReport", params=[
        ("_id", "dr1"), ("_include", "DiagnosticReport:result"), ("_include:iterate", "Observation:encounter")])
    bundle = response.json()
    assert ids(bundle) == {"dr1"} and ids(bundle, "include") == {"glu1", "glu2", "enc1", "enc4"}
    # revinclude then iterate from what was included: patient <- encounter <- observations
    response = await client.get("/fhir/Patient", params=[
        ("_id", "pat3"), ("_revinclude", "Encounter:subject"), ("_revinclude:iterate", "Observation:encounter")])
    assert ids(response.json(), "include") == {"enc3", "bp3"}
    everything = await get(client, "/fhir/Encounter", _id="enc2", _include="Encounter:*")
    assert ids(everything, "include") == {"pat2", "org1"}
    assert ids(await get(client, "/fhir/Encounter", _id="enc2", _include="*"), "include") == {"pat2", "org1"}
    # `_revinclude=*`: whatever refers to the page, through any reference parameter of any type
    referrers = ids(await get(client, "/fhir/Patient", _id="pat3", _revinclude="*"), "include")
    assert referrers == {"enc3", "bp3", "temp2", "glu4", "urine"}
    observations = ids(await get(client, "/fhir/Patient", _id="pat3", _revinclude="Observation:*"), "include")
    assert observations == {"bp3", "temp2", "glu4", "urine"}
    assert ids(await get(client, "/fhir/Patient", _id="pat3", _revinclude="Condition:*"), "include") == set()
    # iterating from a page of several types (the encounter and its observations): each type's referrers
    response = await client.get("/fhir/Encounter", params=[("_id", "enc3"), ("_revinclude:iterate", "*")])
    assert ids(response.json(), "include") == {"bp3"}
    response = await client.get("/fhir/DiagnosticReport", params=[
        ("_id", "dr1"), ("_include", "DiagnosticReport:result"), ("_revinclude:iterate", "*")])
    assert ids(response.json(), "include") == {"glu1", "glu2", "flagged"}  # the List holding glu1 (List:item)
    typed = await get(client, "/fhir/Encounter", _id="enc2", _include="Encounter:subject:Group")
    assert ids(typed, "include") == set()
    # an included resource is listed once, even when it also matched
    both = await get(client, "/fhir/Observation", code="718-7,2160-0,14682-9", _include="Observation:subject")
    assert ids(both) == {"hb1", "cr1", "cr2"} and ids(both, "include") == {"pat2", "pat4"}


async def test_lenient_handling_reports_what_it_ignored(client: Any) -> None:
    await load(client)
    strict = await client.get("/fhir/Patient", params={"gender": "male", "colour": "red"})
    assert strict.status_code == 400 and "colour" in strict.text
    response = await client.get("/fhir/Patient", params={"gender": "male", "colour": "red", "_sort": "shoe-size"},
                                headers={"prefer": "handling=lenient"})
    assert response.status_code == 200
    bundle = response.json()
    assert ids(bundle) == {"pat2", "pat4"}
    outcome = [entry for entry in bundle["entry"] if entry["search"]["mode"] == "outcome"]
    assert len(outcome) == 1 and outcome[0]["resource"]["resourceType"] == "OperationOutcome"
    assert {"colour", "_sort"} <= {issue["diagnostics"].split("'")[1] for issue in outcome[0]["resource"]["issue"]}
    query = parse_qs(urlsplit(link(bundle, "self") or "").query)
    assert "colour" not in query and query["gender"] == ["male"]


async def test_capability_statement_lists_what_search_serves(client: Any) -> None:
    statement = (await client.get("/fhir/metadata")).json()
    rest = statement["rest"][0]
    assert {"code": "search-system"} in rest["interaction"]
    observation = next(item for item in rest["resource"] if item["type"] == "Observation")
    params = {param["name"]: param for param in observation["searchParam"]}
    assert params["code"]["type"] == "token"
    assert params["code"]["definition"] == "http://hl7.org/fhir/SearchParameter/clinical-code"
    assert params["component-code-value-quantity"]["type"] == "composite"
    assert {"_text", "_content", "_list", "value-quantity", "subject"} <= set(params)
    assert "Observation:subject" in observation["searchInclude"]
    patient = next(item for item in rest["resource"] if item["type"] == "Patient")
    assert "Observation:subject" in patient["searchRevInclude"]
    location = next(item for item in rest["resource"] if item["type"] == "Location")
    assert "near" not in {param["name"] for param in location["searchParam"]}
    assert {param["name"] for param in rest["searchParam"]} >= {"_id", "_lastUpdated", "_tag", "_content"}


async def test_one_sort_key_pages_through_values_then_the_missing_both_ways(client: Any) -> None:
    await load(client)
    for oid in ("undated-a", "undated-b"):
        resource = {"resourceType": "Observation", "id": oid, "status": "final", "code": {"text": "no date"}}
        assert (await client.put(f"/fhir/Observation/{oid}", json=resource)).status_code == 201
    everything = [entry["resource"]["id"] for entry in
                  (await get(client, "/fhir/Observation", _sort="-date", _count="100"))["entry"]]
    assert everything[-2:] == ["undated-a", "undated-b"] and everything[0] == "glu2"
    seen: list[str] = []
    bundle = await get(client, "/fhir/Observation", _sort="-date", _count="3")
    while True:
        seen.extend(entry["resource"]["id"] for entry in bundle["entry"])
        following = link(bundle, "next")
        if following is None:
            break
        bundle = await get(client, local(following))
    assert seen == everything
    back: list[str] = [entry["resource"]["id"] for entry in bundle["entry"]]
    while (previous := link(bundle, "previous")) is not None:
        bundle = await get(client, local(previous))
        back = [entry["resource"]["id"] for entry in bundle["entry"]] + back
    assert back == everything


async def test_a_union_parameter_sorts_by_the_rows_of_the_parameters_it_unites(client: Any) -> None:
    """combo-code has no rows of its own: a resource sorts by the smallest (largest, descending) of its
    code and its components' codes; the blood pressures' components (8462-4) come before their panel code."""
    await load(client)
    for order, expected in (("combo-code", ["glu4", "glu1", "glu2", "glu3", "bp1", "bp2", "bp3"]),
                            ("-combo-code", ["bp1", "bp2", "bp3", "glu1", "glu2", "glu3", "glu4"])):
        seen: list[str] = []
        bundle = await get(client, "/fhir/Observation", **{"combo-code": "85354-9,2345-7,2339-0"}, _sort=order,
                           _count="3")
        while True:
            seen.extend(entry["resource"]["id"] for entry in bundle["entry"])
            if (following := link(bundle, "next")) is None:
                break
            bundle = await get(client, local(following))
        assert seen == expected, order
