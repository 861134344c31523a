"""`analytics_encounters` follows every write, and is rebuilt from stored data when it is not current."""

from __future__ import annotations

from fhir_server.context import DEV_PRINCIPAL, RequestContext
from tests.fhir_server.analytics.data import PERIOD, stays
from tests.fhir_server.bulk.harness import FHIR_JSON, Harness
from tests.fhir_server.bulk.samples import condition, encounter, patient

EVALUATE = "/fhir/Measure/in-hospital-mortality/$evaluate-measure"


async def figures(h: Harness, **params: str) -> tuple[int, int, dict[str, int]]:
    response = await h.http.get(EVALUATE, params={**PERIOD, **params})
    assert response.status_code == 200, response.text
    group = response.json()["group"][0]
    counts = {p["code"]["coding"][0]["code"]: p["count"] for p in group["population"]}
    conditions = {s["value"]["text"]: next(p["count"] for p in s["population"]
                                           if p["code"]["coding"][0]["code"] == "denominator")
                  for s in next(x for x in group["stratifier"] if x["id"] == "condition")["stratum"]}
    return counts["denominator"], counts["numerator"], conditions


async def test_writes_move_the_figures(h: Harness):
    for resource in stays():
        await h.put(resource)
    assert (await figures(h))[:2] == (15, 3)
    # a death recorded later on the patient, inside an earlier stay
    await h.put(patient("pc1", "F", "G", "MRN1", "0", "1", "x@y", "1 St", "C", "82001", "1950-01-01",
                        "2024-02-04T00:00:00Z"))
    assert (await figures(h))[:2] == (15, 4)
    # the disposition corrected, a stay deleted, a new one discharged
    await h.put(encounter("c0", "pc0", start="2024-01-01T10:00:00Z", end="2024-01-05T10:00:00Z", condition="cond-c0"))
    assert (await h.http.delete("/fhir/Encounter/o1")).status_code in (200, 204)
    await h.put(encounter("new", "pc9", start="2024-07-01T10:00:00Z", end="2024-07-02T10:00:00Z"))
    assert (await figures(h))[:2] == (15, 3)
    # the principal diagnosis recoded: the stays move to the new condition stratum
    await h.put(condition("cond-c3", "pc3", "84114007", "Heart failure"))
    assert (await figures(h))[2]["Heart failure"] == 1


async def test_a_transaction_may_write_the_condition_after_the_encounter(h: Harness):
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": encounter("t1", "pt", start="2024-03-01T00:00:00Z", end="2024-03-03T00:00:00Z", condition="ct"),
         "request": {"method": "PUT", "url": "Encounter/t1"}},
        {"resource": condition("ct", "pt", "91302008", "Sepsis"), "request": {"method": "PUT", "url": "Condition/ct"}},
        {"resource": patient("pt", "F", "G", "M", "0", "1", "x@y", "1 St", "C", "82001", "1950-01-01",
                             "2024-03-02T00:00:00Z"), "request": {"method": "PUT", "url": "Patient/pt"}},
    ]}
    ctx = RequestContext(principal=DEV_PRINCIPAL, base_url="http://testserver/fhir")
    await h.runtime.services.bundles.process(ctx, bundle)
    total, deaths, conditions = await figures(h)
    assert (total, deaths) == (1, 1) and conditions == {"Sepsis": 1}


async def test_the_projection_is_rebuilt_from_stored_data(h: Harness):
    for resource in stays():
        await h.put(resource)
    before = await figures(h)
    async with h.runtime.store.write() as tx:
        await tx.db.execute("DELETE FROM analytics_encounters")
        await tx.db.execute("DELETE FROM consumer_offsets WHERE name = $1", "analytics.encounters")
    h.runtime.analytics._ready = False
    waiting = await h.http.get(EVALUATE, params=PERIOD)
    assert waiting.status_code == 503 and waiting.headers["retry-after"] == "30"
    assert waiting.json()["issue"][0]["code"] == "transient"
    h.runtime.analytics.rebuild.batch_rows = 4
    h.runtime.analytics.rebuild.slice_seconds = 0.0
    assert await h.run_jobs() >= 5  # a chain of slices
    assert await figures(h) == before


async def test_content_type_of_a_post(h: Harness):
    for resource in stays():
        await h.put(resource)
    body = {"resourceType": "Parameters", "parameter": [{"name": "periodStart", "valueDate": "2024-01-01"},
                                                        {"name": "periodEnd", "valueDate": "2024-06-30"}]}
    response = await h.http.post(EVALUATE, json=body, headers=FHIR_JSON)
    assert response.status_code == 200
    group = response.json()["group"][0]
    assert {p["code"]["coding"][0]["code"]: p["count"] for p in group["population"]}["denominator"] == 9
