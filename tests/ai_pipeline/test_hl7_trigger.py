"""An ORU^R01 filed by the HL7 gateway queues one assessment in its transaction; the worker answers it."""

from __future__ import annotations

import asyncio

import orjson

from fhir_server.context import DEV_PRINCIPAL, Principal, RequestContext
from fhir_server.services import SearchRequest
from hl7_gateway.runner import build_gateway
from resources import fhir_json
from tests.ai_pipeline.records import jobs, run_jobs

# A chemistry result as a lab sends it (HL7 v2.5.1 ORU^R01): high potassium, raised creatinine
ORU = "\r".join([
    "MSH|^~\\&|LabApp|LabFac|OrdApp|OrdFac|20261120083000+0000||ORU^R01^ORU_R01|MSG-AI-1|P|2.5.1",
    "PID|1||MRN-AI-1^^^OrdFac^MR||Okafor^Adaeze||19580312|F",
    "OBR|1|ORD-1|LAB-1|24326-1^Electrolytes 1998 panel^LN|||20261120080000+0000|||||||||||||||20261120083000+0000|||F",
    "OBX|1|NM|2823-3^Potassium [Moles/volume] in Serum or Plasma^LN||6.9|mmol/L^mmol/L^UCUM|3.5-5.3|HH|||F"
    "|||20261120080000+0000",
    "OBX|2|NM|2160-0^Creatinine [Mass/volume] in Serum or Plasma^LN||2.10|mg/dL^mg/dL^UCUM|0.60-1.20|H|||F"
    "|||20261120080000+0000",
]).encode() + b"\r"


async def test_an_oru_through_the_gateway_ends_in_risk_assessments(runtime):
    gateway = build_gateway(runtime)
    delivery = await gateway.deliver(ORU, "127.0.0.1:1")
    assert delivery.outcome.status == "processed", delivery.outcome
    queued = await jobs(runtime)
    assert [kind for kind, _, _ in queued] == ["ai-pipeline.assess"]  # one per patient, not one per result
    patient = orjson.loads(queued[0][2])["patient"]
    # ...with every result of the message as its source
    assert sorted(source.split("/")[0] for source in orjson.loads(queued[0][2])["sources"]) == [
        "DiagnosticReport", "Observation", "Observation"]
    assert await run_jobs(runtime) == 1
    async with runtime.store.single() as db:
        rows = await db.fetch("SELECT res_id FROM resources WHERE res_type = 'RiskAssessment' AND deleted = $1", False)
    stored = [fhir_json.loads((await runtime.services.resources.read(_dev(), "RiskAssessment", row[0])).body)
              for row in rows]
    rules = {a["method"]["coding"][0]["code"] for a in stored}
    assert {"ukka-hyperkalaemia-2020", "ckd-epi-2021-kdigo"} <= rules
    assert all(a["subject"]["reference"] == f"Patient/{patient}" for a in stored)

    # a SMART app launched for this patient with patient/RiskAssessment.rs reads them; for another, none
    search = runtime.services.search
    for launched, expected in ((patient, len(stored)), ("someone-else", 0)):
        app = Principal(subject="smart-app", role="doctor", client_id="app", patient=launched,
                        scopes=frozenset({"patient/RiskAssessment.rs"}))
        ctx = RequestContext(principal=app, base_url="http://testserver/fhir")
        bundle = fhir_json.loads(await search.search(ctx, SearchRequest("RiskAssessment", [])))
        assert len(bundle.get("entry", [])) == expected


async def test_messages_for_one_patient_filed_together_are_all_sources_of_its_assessment(runtime):
    gateway = build_gateway(runtime)
    second = ORU.replace(b"MSG-AI-1", b"MSG-AI-2").replace(b"ORD-1|LAB-1", b"ORD-2|LAB-2")
    deliveries = await asyncio.gather(gateway.deliver(ORU, "127.0.0.1:1"), gateway.deliver(second, "127.0.0.1:2"))
    assert [d.outcome.status for d in deliveries] == ["processed", "processed"]
    queued = await jobs(runtime)
    assert [kind for kind, _, _ in queued] == ["ai-pipeline.assess"]
    sources = orjson.loads(queued[0][2])["sources"]
    assert len(set(sources)) == 6 and sum(source.startswith("DiagnosticReport/") for source in sources) == 2


def _dev():
    return RequestContext(principal=DEV_PRINCIPAL, base_url="http://testserver/fhir")
