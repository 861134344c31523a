"""`Measure/in-hospital-mortality/$evaluate-measure` through HTTP on the shipped Measure."""

from __future__ import annotations

from decimal import Decimal

from tests.fhir_server.analytics.data import PERIOD, stays
from tests.fhir_server.bulk.harness import Harness, caller

EVALUATE = "/fhir/Measure/in-hospital-mortality/$evaluate-measure"


async def load(h: Harness) -> None:
    for resource in stays():
        await h.put(resource)


def populations(item: dict) -> dict[str, int | None]:
    return {p["code"]["coding"][0]["code"]: p.get("count") for p in item["population"]}


def strata(report: dict, stratifier: str) -> dict[str, dict]:
    group = report["group"][0]
    found = next(s for s in group["stratifier"] if s["id"] == stratifier)
    return {stratum["value"]["text"]: stratum for stratum in found["stratum"]}


async def test_population_report(h: Harness):
    await load(h)
    response = await h.http.get(EVALUATE, params=PERIOD)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["resourceType"] == "MeasureReport" and report["type"] == "summary" and report["status"] == "complete"
    assert report["measure"] == "https://fhir-server.dev/fhir/Measure/in-hospital-mortality"
    assert report["period"] == {"start": "2024-01-01", "end": "2024-12-31"}
    group = report["group"][0]
    assert populations(group) == {"initial-population": 15, "denominator": 15, "numerator": 3}
    assert Decimal(str(group["measureScore"]["value"])) == Decimal("0.2000")
    attending = strata(report, "attending")
    assert populations(attending["Dr Sam House"]) == {"initial-population": 12, "denominator": 12, "numerator": 2}
    assert attending["Dr Sam Quinn"]["value"]["extension"][0]["valueReference"]["reference"] == "Practitioner/doc-2"
    department = strata(report, "department")
    assert populations(department["Cardiology"])["numerator"] == 2
    assert populations(department["Oncology <b>&</b>"]) == {"initial-population": 3, "denominator": 3, "numerator": 1}
    condition = strata(report, "condition")
    assert populations(condition["Myocardial infarction"])["denominator"] == 12
    assert condition["Lung cancer"]["value"]["coding"] == [{"code": "363358000", "system": "http://snomed.info/sct",
                                                             "display": "Lung cancer"}]
    quarters = strata(report, "quarter")
    assert list(quarters) == ["2024-Q1", "2024-Q2", "2024-Q3", "2024-Q4"]
    assert [populations(q)["denominator"] for q in quarters.values()] == [3, 6, 3, 3]
    assert [populations(q)["numerator"] for q in quarters.values()] == [1, 2, 0, 0]
    assert len(strata(report, "month")) == 12 and list(strata(report, "year")) == ["2024"]
    measure = await h.http.get("/fhir/Measure/in-hospital-mortality")
    assert measure.status_code == 200 and measure.json()["scoring"]["coding"][0]["code"] == "proportion"


async def test_subjects_and_report_types(h: Harness):
    await load(h)
    by_doctor = (await h.http.get(EVALUATE, params={**PERIOD, "practitioner": "doc-2"})).json()
    assert by_doctor["subject"] == {"reference": "Practitioner/doc-2"}
    assert populations(by_doctor["group"][0]) == {"initial-population": 3, "denominator": 3, "numerator": 1}
    by_department = (await h.http.get(EVALUATE, params={**PERIOD, "subject": "Organization/cardio"})).json()
    assert populations(by_department["group"][0])["denominator"] == 12
    one = (await h.http.get(EVALUATE, params={**PERIOD, "subject": "Patient/pc5", "reportType": "subject"})).json()
    assert one["type"] == "individual" and populations(one["group"][0])["numerator"] == 1
    listed = (await h.http.get(EVALUATE, params={**PERIOD, "reportType": "subject-list",
                                                 "subject": "Practitioner/doc-1"})).json()
    assert listed["type"] == "subject-list"
    lists = {item["id"]: item for item in listed["contained"]}
    assert len(lists["denominator"]["entry"]) == 12
    assert {e["item"]["reference"] for e in lists["numerator"]["entry"]} == {"Encounter/c0", "Encounter/c5"}
    numerator = next(p for p in listed["group"][0]["population"] if p["code"]["coding"][0]["code"] == "numerator")
    assert numerator["subjectResults"] == {"reference": "#numerator"}
    await h.put({"resourceType": "Group", "id": "g", "type": "person", "actual": True,
                 "member": [{"entity": {"reference": "Patient/po0"}}, {"entity": {"reference": "Patient/pc0"}}]})
    grouped = (await h.http.get(EVALUATE, params={**PERIOD, "subject": "Group/g"})).json()
    assert populations(grouped["group"][0]) == {"initial-population": 2, "denominator": 2, "numerator": 2}
    type_level = await h.http.get("/fhir/Measure/$evaluate-measure",
                                  params={**PERIOD, "measure": "https://fhir-server.dev/fhir/Measure/in-hospital-mortality"})
    assert type_level.status_code == 200


async def test_refusals(h: Harness):
    assert (await h.http.get(EVALUATE, params={"periodEnd": "2024-12-31"})).status_code == 400
    assert (await h.http.get(EVALUATE, params={**PERIOD, "reportType": "everything"})).status_code == 400
    assert (await h.http.get(EVALUATE, params={**PERIOD, "reportType": "subject"})).status_code == 400
    assert (await h.http.get(EVALUATE, params={**PERIOD, "subject": "Observation/1"})).status_code == 400
    assert (await h.http.get(EVALUATE, params={"periodStart": "2025-01-01", "periodEnd": "2024-01-01"})).status_code == 400
    other = await h.http.get("/fhir/Measure/readmissions/$evaluate-measure", params=PERIOD)
    assert other.status_code == 422
    assert (await h.http.get(EVALUATE, params={**PERIOD, "lastReceivedOn": "2024-01-01T00:00:00Z"})).status_code == 400


async def test_analysts_get_small_cells_suppressed(h: Harness):
    await load(h)
    analyst = caller("dash", role="analyst")
    report = (await h.http.get(EVALUATE, params=PERIOD, headers=analyst)).json()
    assert report["extension"] == [{"url": "https://fhir-server.dev/fhir/StructureDefinition/minimum-cell-size",
                                    "valueInteger": 11}]
    assert populations(report["group"][0])["denominator"] == 15
    department = strata(report, "department")
    oncology = department["Oncology <b>&</b>"]
    assert oncology["extension"][0]["valueBoolean"] is True and "measureScore" not in oncology
    assert populations(oncology) == {"initial-population": None, "denominator": None, "numerator": None}
    # with one department hidden the other must go too, or 15 - 12 would give it away
    assert "measureScore" not in department["Cardiology"]
    assert all("measureScore" not in q for q in strata(report, "quarter").values())  # every quarter is under 11
    for params in ({"reportType": "subject-list"}, {"subject": "Patient/pc5", "reportType": "subject"},
                   {"subject": "Patient/pc5"}):
        assert (await h.http.get(EVALUATE, params={**PERIOD, **params}, headers=analyst)).status_code == 403
    clinician = caller("ehr", role="doctor", scopes="user/Encounter.read user/Patient.read user/Measure.read")
    report = (await h.http.get(EVALUATE, params=PERIOD, headers=clinician)).json()
    assert "extension" not in report and "measureScore" in strata(report, "department")["Cardiology"]
    nobody = caller("app", role="physician", scopes="user/Observation.read")
    assert (await h.http.get(EVALUATE, params=PERIOD, headers=nobody)).status_code == 403
