"""Stays with known outcomes: 12 in cardiology (doc-1, 2 deaths), 3 in oncology (doc-2, 1 death), and
stays that must not count (outpatient, cancelled, not yet discharged, discharged outside 2024)."""

from __future__ import annotations

from typing import Any

from tests.fhir_server.bulk.samples import condition, encounter, organization, patient, practitioner

CARDIO_DEATHS = {"c0", "c5"}  # c0: disposition exp; c5: the patient's death date falls in the stay


def stays() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [practitioner("doc-1", "House"), practitioner("doc-2", "Quinn"),
                                 organization("cardio", "Cardiology"), organization("onco", "Oncology <b>&</b>")]
    for n in range(12):
        month = n + 1
        pid = f"pc{n}"
        deceased = "2024-06-03T10:00:00Z" if n == 5 else None
        out.append(patient(pid, "Family", "Given", f"MRN{n}", "000-00-0000", "1", "x@y", "1 St", "C", "82001",
                           "1950-01-01", deceased))
        out.append(condition(f"cond-c{n}", pid, "22298006", "Myocardial infarction"))
        out.append(encounter(f"c{n}", pid, start=f"2024-{month:02d}-01T10:00:00Z", end=f"2024-{month:02d}-05T10:00:00Z",
                             attending="doc-1", dept="cardio", disposition="exp" if n == 0 else "home",
                             condition=f"cond-c{n}"))
    for n in range(3):
        pid = f"po{n}"
        out.append(patient(pid, "Family", "Given", f"MRNo{n}", "000-00-0000", "1", "x@y", "1 St", "C", "82001",
                           "1950-01-01", None))
        out.append(encounter(f"o{n}", pid, start="2024-04-01T10:00:00Z", end="2024-04-03T10:00:00Z", attending="doc-2",
                             dept="onco", disposition="exp" if n == 0 else "home",
                             reason=("363358000", "Lung cancer")))
    out += [
        encounter("amb", "pc1", start="2024-02-01T10:00:00Z", end="2024-02-01T11:00:00Z", klass="AMB"),
        encounter("cancelled", "pc1", start="2024-02-01T10:00:00Z", end="2024-02-02T11:00:00Z", status="cancelled"),
        encounter("still-in", "pc2", start="2024-12-20T10:00:00Z", end=None, status="in-progress"),
        encounter("last-year", "pc3", start="2023-12-01T10:00:00Z", end="2023-12-05T10:00:00Z", disposition="exp"),
    ]
    return out


PERIOD = {"periodStart": "2024-01-01", "periodEnd": "2024-12-31"}
