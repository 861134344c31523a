"""`$mortality` (MeasureReport and CSV) and the HTML dashboard, over HTTP."""

from __future__ import annotations

import csv
import io
import re

from tests.fhir_server.analytics.data import PERIOD, stays
from tests.fhir_server.bulk.harness import Harness, caller
from tests.fhir_server.bulk.samples import encounter


async def load(h: Harness) -> None:
    for resource in stays():
        await h.put(resource)


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


async def test_a_practitioners_rate_by_quarter(h: Harness):
    await load(h)
    response = await h.http.get("/fhir/Practitioner/doc-1/$mortality", params={"period": "quarter", **PERIOD})
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["subject"] == {"reference": "Practitioner/doc-1"}
    quarters = next(s for s in report["group"][0]["stratifier"] if s["id"] == "quarter")["stratum"]
    counts = [{p["code"]["coding"][0]["code"]: p["count"] for p in s["population"]}["denominator"] for s in quarters]
    assert counts == [3, 3, 3, 3]
    assert [s["id"] for s in report["group"][0]["stratifier"]] == ["quarter", "condition"]


async def test_the_same_numbers_as_csv(h: Harness):
    await load(h)
    response = await h.http.get("/fhir/$mortality", params={"by": "department", "period": "quarter", "_format": "csv",
                                                            **PERIOD})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="mortality-by-department-quarter.csv"' in response.headers["content-disposition"]
    table = rows(response.text)
    total = next(r for r in table if r["stratifier"] == "total")
    assert (total["denominator"], total["numerator"], total["rate"]) == ("15", "3", "0.2000")
    cardio_q2 = next(r for r in table if r["stratifier"] == "department-quarter" and r["key"] == "Organization/cardio"
                     and r["period"] == "2024-Q2")
    assert (cardio_q2["label"], cardio_q2["denominator"], cardio_q2["numerator"]) == ("Cardiology", "3", "1")
    assert {r["stratifier"] for r in table} == {"total", "department", "department-quarter", "quarter"}
    by_accept = await h.http.get("/fhir/Organization/onco/$mortality", params=PERIOD, headers={"accept": "text/csv"})
    assert rows(by_accept.text)[0]["denominator"] == "3"
    json_report = await h.http.get("/fhir/$mortality", params={"by": "department", **PERIOD})
    department = next(s for s in json_report.json()["group"][0]["stratifier"] if s["id"] == "department")
    assert len(department["stratum"]) == 2


async def test_csv_is_suppressed_for_analysts_and_safe_in_spreadsheets(h: Harness):
    await load(h)
    await h.put({"resourceType": "Organization", "id": "evil", "name": "=HYPERLINK(\"http://x\")"})
    for n in range(2):
        await h.put(encounter(f"ev{n}", "pz", start="2024-08-01T00:00:00Z", end="2024-08-02T00:00:00Z", dept="evil"))
    response = await h.http.get("/fhir/$mortality", params={"_format": "text/csv", **PERIOD},
                                headers=caller("dash", role="analyst"))
    table = rows(response.text)
    evil = next(r for r in table if r["stratifier"] == "department" and r["key"] == "Organization/evil")
    assert evil["label"].startswith("'=") and evil["suppressed"] == "true" and evil["denominator"] == ""


async def test_parameters_are_checked(h: Harness):
    assert (await h.http.get("/fhir/$mortality", params={"period": "week"})).status_code == 400
    assert (await h.http.get("/fhir/$mortality", params={"by": "ward"})).status_code == 400
    assert (await h.http.get("/fhir/$mortality", params={"colour": "red"})).status_code == 400
    assert (await h.http.get("/fhir/Practitioner/doc-1/$mortality", params={"by": "department"})).status_code == 400
    assert (await h.http.get("/fhir/Observation/1/$mortality")).status_code == 400


async def test_the_dashboard_page(h: Harness):
    await load(h)
    response = await h.http.get("/dashboard/mortality", params={"period": "quarter", **PERIOD})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    page = response.text
    assert "<svg" in page and page.count("<polyline") >= 2 and "Cardiology" in page
    assert "Oncology &lt;b&gt;&amp;&lt;/b&gt;" in page and "Oncology <b>" not in page  # escaped
    assert not re.search(r"<(script|link|img)\b", page) and "src=" not in page  # nothing loaded from anywhere
    assert "20.0%" in page  # the overall rate
    assert "_format=csv" in page
    assert (await h.http.get("/dashboard/mortality", params={"by": "attending"})).status_code == 200
    analyst = await h.http.get("/dashboard/mortality", params=PERIOD, headers=caller("dash", role="analyst"))
    assert analyst.status_code == 200 and "suppressed" in analyst.text
