"""Bulk Data export through HTTP: kick-off, polling, manifest, files, parameters, cancellation."""

from __future__ import annotations

import asyncio

from tests.fhir_server.bulk.harness import ASYNC, Harness, caller
from tests.fhir_server.bulk.samples import hospital


async def load(h: Harness) -> None:
    for resource in hospital():
        await h.put(resource)


async def test_system_export_follows_the_async_pattern(h: Harness):
    await load(h)
    kick_off = await h.http.get("/fhir/$export", headers=ASYNC)
    assert kick_off.status_code == 202, kick_off.text
    status_url = kick_off.headers["content-location"]
    assert "/fhir/$export-status/" in status_url
    waiting = await h.http.get(status_url)
    assert waiting.status_code == 202
    assert waiting.headers["retry-after"].isdigit() and "x-progress" in waiting.headers
    await h.run_jobs()
    done = await h.http.get(status_url)
    assert done.status_code == 200 and done.headers["content-type"].startswith("application/json")
    assert "expires" in done.headers
    manifest = done.json()
    assert manifest["requiresAccessToken"] is True
    assert manifest["request"] == "http://testserver/fhir/$export"
    assert manifest["transactionTime"].startswith("20")
    counts = {item["type"]: item["count"] for item in manifest["output"]}
    assert counts == {"Patient": 3, "Encounter": 3, "Condition": 2, "Observation": 9, "Practitioner": 2,
                      "Organization": 2, "Group": 1}
    assert manifest["error"] == []
    first = manifest["output"][0]
    response = await h.http.get(first["url"].removeprefix("http://testserver"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/fhir+ndjson"
    assert len(response.content.splitlines()) == first["count"]
    patients = await h.lines(manifest, "Patient")
    assert sorted(p["id"] for p in patients) == ["ada", "bo", "cy"]


async def test_kick_off_needs_respond_async_and_refuses_bad_parameters(h: Harness):
    assert (await h.http.get("/fhir/$export")).status_code == 400
    bad = [{"_outputFormat": "text/csv"}, {"_type": "Nonsense"}, {"_since": "yesterday"},
           {"_typeFilter": "Observation?colour=blue"}, {"_typeFilter": "Observation?_count=2"},
           {"includeAssociatedData": "LatestProvenanceResources"}, {"_deidentify": "k-anonymity"},
           {"unknown": "x"}]
    for params in bad:
        response = await h.http.get("/fhir/$export", params=params, headers=ASYNC)
        assert response.status_code == 400, (params, response.text)
        assert response.json()["resourceType"] == "OperationOutcome"
    # not in the Patient compartment
    assert (await h.http.get("/fhir/Patient/$export", params={"_type": "Practitioner"}, headers=ASYNC)).status_code == 400
    assert (await h.http.get("/fhir/Group/missing/$export", headers=ASYNC)).status_code == 404


async def test_lenient_handling_leaves_out_what_it_cannot_do_and_says_so(h: Harness):
    await load(h)
    status = await h.export(headers={"prefer": "respond-async, handling=lenient"}, _type="Patient,Nonsense")
    manifest = await h.manifest(status)
    assert [item["type"] for item in manifest["output"]] == ["Patient"]
    notes = await h.lines(manifest, key="error")
    assert "Nonsense" in notes[0]["issue"][0]["diagnostics"]


async def test_all_three_output_format_spellings(h: Harness):
    await load(h)
    for spelling in ("application/fhir+ndjson", "application/ndjson", "ndjson"):
        response = await h.http.get("/fhir/$export", params={"_outputFormat": spelling, "_type": "Group"},
                                    headers=ASYNC)
        assert response.status_code == 202, response.text
    unencoded = await h.http.get("/fhir/$export?_outputFormat=application/fhir+ndjson&_type=Group", headers=ASYNC)
    assert unencoded.status_code == 202


async def test_patient_level_export_is_the_patient_compartment(h: Harness):
    await load(h)
    manifest = await h.manifest(await h.export("/fhir/Patient/$export"))
    types = {item["type"] for item in manifest["output"]}
    assert types == {"Patient", "Encounter", "Condition", "Observation", "Group"}
    assert "Practitioner" not in types and "Organization" not in types


async def test_group_export_covers_its_members_only(h: Harness):
    await load(h)
    manifest = await h.manifest(await h.export("/fhir/Group/cohort/$export", _type="Patient,Observation,Encounter"))
    assert sorted(p["id"] for p in await h.lines(manifest, "Patient")) == ["ada", "bo"]
    observations = await h.lines(manifest, "Observation")
    assert {o["subject"]["reference"] for o in observations} == {"Patient/ada", "Patient/bo"}
    assert len(observations) == 6


async def test_group_defined_by_a_member_filter(h: Harness):
    await load(h)
    await h.put({"resourceType": "Group", "id": "women-wy", "type": "person", "actual": False,
                 "extension": [{"url": "http://hl7.org/fhir/uv/bulkdata/StructureDefinition/member-filter",
                                "valueExpression": {"language": "application/x-fhir-query",
                                                    "expression": "Patient?address-postalcode=82001"}}]})
    manifest = await h.manifest(await h.export("/fhir/Group/women-wy/$export", _type="Patient,Encounter"))
    assert [p["id"] for p in await h.lines(manifest, "Patient")] == ["ada"]
    assert [e["id"] for e in await h.lines(manifest, "Encounter")] == ["e-ada"]


async def test_group_defined_by_characteristics(h: Harness):
    await load(h)
    param = "https://fhir-server.dev/fhir/CodeSystem/patient-search-parameter"
    await h.put({"resourceType": "Group", "id": "wy-women", "type": "person", "actual": False, "characteristic": [
        {"code": {"coding": [{"system": "http://loinc.org", "code": "46098-0"}]}, "exclude": False,
         "valueCodeableConcept": {"coding": [{"system": "http://hl7.org/fhir/administrative-gender",
                                              "code": "female"}]}},
        {"code": {"coding": [{"system": param, "code": "gender"}]}, "exclude": True,
         "valueCodeableConcept": {"coding": [{"code": "male"}]}},
        {"code": {"coding": [{"system": param, "code": "address-postalcode"}]}, "exclude": False,
         "valueCodeableConcept": {"text": "82001"}},
    ]})
    manifest = await h.manifest(await h.export("/fhir/Group/wy-women/$export", _type="Patient,Encounter"))
    assert [p["id"] for p in await h.lines(manifest, "Patient")] == ["ada"]
    assert [e["id"] for e in await h.lines(manifest, "Encounter")] == ["e-ada"]


async def test_characteristics_search_cannot_express_are_refused(h: Harness):
    await load(h)
    for characteristic in (
        {"code": {"text": "smoker"}, "exclude": False, "valueBoolean": True},
        {"code": {"coding": [{"system": "http://loinc.org", "code": "46098-0"}]}, "exclude": False,
         "valueQuantity": {"value": 3}},
        {"code": {"coding": [{"system": "http://loinc.org", "code": "46098-0"}]}, "exclude": False,
         "valueCodeableConcept": {"coding": [{"code": "female"}]}, "period": {"start": "2020-01-01"}},
    ):
        await h.put({"resourceType": "Group", "id": "vague", "type": "person", "actual": False,
                     "characteristic": [characteristic]})
        refused = await h.http.get("/fhir/Group/vague/$export", headers=ASYNC)
        assert refused.status_code == 400, characteristic
        assert "characteristic[0]" in refused.json()["issue"][0]["diagnostics"]


async def test_patient_parameter_narrows_a_post_kick_off(h: Harness):
    await load(h)
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "patient", "valueReference": {"reference": "Patient/cy"}},
        {"name": "_type", "valueString": "Patient,Observation"}]}
    response = await h.http.post("/fhir/Patient/$export", json=body,
                                 headers={**ASYNC, "content-type": "application/fhir+json"})
    assert response.status_code == 202, response.text
    await h.run_jobs()
    manifest = await h.manifest(response.headers["content-location"].removeprefix("http://testserver"))
    assert [p["id"] for p in await h.lines(manifest, "Patient")] == ["cy"]
    assert len(await h.lines(manifest, "Observation")) == 3
    assert (await h.http.get("/fhir/Patient/$export", params={"patient": "Patient/cy"}, headers=ASYNC)).status_code == 400


async def test_type_filter_and_elements(h: Harness):
    await load(h)
    manifest = await h.manifest(await h.export(
        _type="Observation,Patient", _typeFilter="Observation?date=ge2024-03-01", _elements="Patient.gender,Observation.effective,status"))
    observations = await h.lines(manifest, "Observation")
    assert len(observations) == 3 and all(o["effectiveDateTime"].startswith("2024-03") for o in observations)
    assert all("note" not in o and o["status"] == "final" for o in observations)
    patients = await h.lines(manifest, "Patient")
    assert all(set(p) <= {"resourceType", "id", "meta", "gender"} for p in patients)
    assert all(any(t["code"] == "SUBSETTED" for t in p["meta"]["tag"]) for p in patients)


async def test_two_type_filters_for_one_type_are_alternatives(h: Harness):
    await load(h)
    manifest = await h.manifest(await h.export(
        _type="Observation", _typeFilter=["Observation?subject=Patient/ada", "Observation?subject=Patient/bo"]))
    assert len(await h.lines(manifest, "Observation")) == 6


async def test_since_exports_changes_and_reports_deletions(h: Harness):
    await load(h)
    await asyncio.sleep(0.01)
    first = await h.manifest(await h.export(_type="Patient"))
    since = first["transactionTime"]
    await asyncio.sleep(0.01)
    changed = {**hospital()[4], "gender": "male"}  # Patient ada
    await h.put(changed)
    assert (await h.http.delete("/fhir/Patient/cy")).status_code in (200, 204)
    manifest = await h.manifest(await h.export(_type="Patient", _since=since))
    assert [p["id"] for p in await h.lines(manifest, "Patient")] == ["ada"]
    deleted = await h.lines(manifest, key="deleted")
    assert deleted == [{"resourceType": "Bundle", "type": "transaction",
                        "entry": [{"request": {"method": "DELETE", "url": "Patient/cy"}}]}]


async def test_export_is_a_snapshot_at_transaction_time(h: Harness):
    await load(h)
    response = await h.http.get("/fhir/$export", params={"_type": "Patient"}, headers=ASYNC)
    status = response.headers["content-location"].removeprefix("http://testserver")
    await asyncio.sleep(0.01)
    await h.put({**hospital()[4], "gender": "male"})  # written after the kick-off
    await h.put({**hospital()[5], "id": "late"})
    await h.run_jobs()
    patients = {p["id"]: p for p in await h.lines(await h.manifest(status), "Patient")}
    assert set(patients) == {"ada", "bo", "cy"}
    assert patients["ada"]["gender"] == "female"


async def test_relevant_provenance_is_associated(h: Harness):
    await load(h)
    await h.put({"resourceType": "Provenance", "id": "prov-1", "target": [{"reference": "Observation/obs-ada-0"}],
                 "recorded": "2024-01-10T08:20:00Z", "agent": [{"who": {"reference": "Practitioner/doc-1"}}]})
    await h.put({"resourceType": "Provenance", "id": "prov-2", "target": [{"reference": "Practitioner/doc-2"}],
                 "recorded": "2024-01-10T08:20:00Z", "agent": [{"who": {"reference": "Practitioner/doc-1"}}]})
    manifest = await h.manifest(await h.export(_type="Observation", includeAssociatedData="RelevantProvenanceResources"))
    assert [p["id"] for p in await h.lines(manifest, "Provenance")] == ["prov-1"]


async def test_cancel_then_404(h: Harness):
    await load(h)
    response = await h.http.get("/fhir/$export", headers=ASYNC)
    status = response.headers["content-location"].removeprefix("http://testserver")
    cancelled = await h.http.delete(status)
    assert cancelled.status_code == 202
    gone = await h.http.get(status)
    assert gone.status_code == 404 and gone.json()["resourceType"] == "OperationOutcome"
    await h.run_jobs()
    assert not (h.runtime.bulk_exports.config.root / status.rsplit("/", 1)[1]).exists()
    assert (await h.http.delete(status)).status_code == 404


async def test_polling_too_fast_gets_429(h: Harness):
    h.tune(poll_min_interval=30.0)
    response = await h.http.get("/fhir/$export", headers=ASYNC)
    status = response.headers["content-location"].removeprefix("http://testserver")
    assert (await h.http.get(status)).status_code == 202
    throttled = await h.http.get(status)
    assert throttled.status_code == 429 and throttled.headers["retry-after"].isdigit()


async def test_status_and_files_belong_to_the_client_that_asked(h: Harness):
    await load(h)
    mine, theirs = caller("app-a"), caller("app-b")
    status = await h.export(headers=mine, _type="Patient")
    assert (await h.http.get(status, headers=theirs)).status_code == 404
    manifest = await h.manifest(status, headers=mine)
    url = manifest["output"][0]["url"].removeprefix("http://testserver")
    assert (await h.http.get(url, headers=theirs)).status_code == 404
    assert (await h.http.get(url, headers=mine)).status_code == 200
    assert (await h.http.delete(status, headers=theirs)).status_code == 404
    assert (await h.http.get(status + "-nope", headers=mine)).status_code == 404
    assert (await h.http.get(url.rsplit("/", 1)[0] + "/..%2Fsecret", headers=mine)).status_code == 404


async def test_the_guard_decides_who_may_export(h: Harness):
    no_scope = caller("app-c", scopes="system/Observation.read")
    assert (await h.http.get("/fhir/$export", headers={**ASYNC, **no_scope})).status_code == 403
    assert (await h.http.get("/fhir/$export", params={"_type": "Observation"},
                             headers={**ASYNC, **no_scope})).status_code == 202
    analyst = caller("app-d", role="analyst")
    assert (await h.http.get("/fhir/$export", headers={**ASYNC, **analyst})).status_code == 403
    assert (await h.http.get("/fhir/$export", params={"_deidentify": "safe-harbor"},
                             headers={**ASYNC, **analyst})).status_code == 202


async def test_every_export_is_audited(h: Harness):
    events = []

    async def sink(event):
        events.append(event)

    h.runtime.bulk_exports.audit.sink = sink
    await load(h)
    status = await h.export(_type="Group")
    manifest = await h.manifest(status)
    await h.lines(manifest)
    actions = [e["subtype"][1]["display"] for e in events]
    assert actions == ["$export kick-off", "$export complete", "$export download"]
    assert all(e["resourceType"] == "AuditEvent" for e in events)


async def test_operation_definitions_are_listed(h: Harness):
    operations = h.runtime.services.operations
    assert operations.definition("export")["system"] is True
    assert operations.definition("patient-export")["type"] is True
    assert operations.definition("group-export")["instance"] is True


async def test_type_filters_resolve_terminology_modifiers(h: Harness):
    await load(h)
    statuses = "http://hl7.org/fhir/ValueSet/observation-status"
    everything = await h.manifest(await h.export(_type="Observation", _typeFilter=f"Observation?status:in={statuses}"))
    assert len(await h.lines(everything, "Observation")) == 9
    nothing = await h.manifest(await h.export(_type="Observation", _typeFilter=f"Observation?status:not-in={statuses}"))
    assert await h.lines(nothing, "Observation") == []
