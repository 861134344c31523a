"""A patient's record as a lab and a ward would send it, and helpers to look at the jobs it queues."""

from __future__ import annotations

import base64
from typing import Any

from fhir_server.jobs import Worker

FHIR_JSON = {"content-type": "application/fhir+json"}
LAB = [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}]


def patient(pid: str = "p1", **changes: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": pid, "name": [{"family": "Okafor", "given": ["Adaeze"]}],
            "gender": "female", "birthDate": "1958-03-12", **changes}


def lab(loinc: str, display: str, value: str, unit: str, *, pid: str = "p1", when: str = "2026-11-20T08:30:00+00:00",
        **changes: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final", "category": LAB,
            "code": {"coding": [{"system": "http://loinc.org", "code": loinc, "display": display}]},
            "subject": {"reference": f"Patient/{pid}"}, "effectiveDateTime": when,
            "valueQuantity": {"value": float(value), "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
            **changes}


def creatinine(value: str = "1.90", **changes: Any) -> dict[str, Any]:
    return lab("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", value, "mg/dL", **changes)


def potassium(value: str = "6.8", **changes: Any) -> dict[str, Any]:
    return lab("2823-3", "Potassium [Moles/volume] in Serum or Plasma", value, "mmol/L", **changes)


def document_reference(data: bytes, content_type: str, *, pid: str = "p1", did: str = "d1") -> dict[str, Any]:
    return {"resourceType": "DocumentReference", "id": did, "status": "current",
            "subject": {"reference": f"Patient/{pid}"},
            "content": [{"attachment": {"contentType": content_type, "data": base64.b64encode(data).decode()}}]}


def runtime_of(client: Any) -> Any:
    return client._transport.app.state.runtime


async def jobs(runtime: Any, kind_prefix: str = "ai-pipeline.") -> list[tuple[str, str, str]]:
    """(kind, status, payload) of the pipeline's jobs, oldest first."""
    async with runtime.store.single() as db:
        rows = await db.fetch("SELECT kind, status, payload FROM jobs ORDER BY pk")
    return [tuple(row) for row in rows if row[0].startswith(kind_prefix)]


async def run_jobs(runtime: Any) -> int:
    """Run the pipeline's jobs until none is left; how many ran."""
    handlers = {kind: handler for kind, handler in runtime.job_handlers.items() if kind.startswith("ai-pipeline.")}
    return await Worker(runtime.jobs, handlers).run_until_idle()


async def search(client: Any, query: str) -> list[dict[str, Any]]:
    response = await client.get(f"/fhir/{query}")
    assert response.status_code == 200, response.text
    return [entry["resource"] for entry in response.json().get("entry", [])]
