"""Access control of the whole server: the real app (not dev mode), real tokens from the real OAuth
flows, and every kind of interaction checked against roles, scopes and the Patient compartment."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from fhir_server.config import Settings
from fhir_server.context import DEV_PRINCIPAL, RequestContext
from tests.fhir_server.auth.harness import (
    add_app,
    add_backend,
    add_user,
    assertion,
    login_and_token,
    rsa_key,
)

BASE = "http://localhost"
FHIR = f"{BASE}/fhir"
LAB = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}

SEED: list[dict[str, Any]] = [
    {"resourceType": "Practitioner", "id": "sup1", "name": [{"family": "Hansen"}]},
    {"resourceType": "Patient", "id": "p1", "name": [{"family": "Okafor"}],
     "generalPractitioner": [{"reference": "Practitioner/sup1"}]},
    {"resourceType": "Patient", "id": "p2", "name": [{"family": "de Vries"}]},
    {"resourceType": "Patient", "id": "p3", "name": [{"family": "Chen"}]},
    {"resourceType": "Encounter", "id": "e2", "status": "finished",
     "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
     "subject": {"reference": "Patient/p2"}, "participant": [{"individual": {"reference": "Practitioner/sup1"}}]},
    *({"resourceType": "Observation", "id": f"o{n}", "status": "final", "category": [LAB],
       "code": {"text": "Haemoglobin"}, "subject": {"reference": f"Patient/p{n}"},
       "performer": [{"reference": "Practitioner/sup1"}]} for n in (1, 2, 3)),
]


def observation(patient: str) -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final", "code": {"text": "Potassium"},
            "subject": {"reference": f"Patient/{patient}"}}


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    """The server with access control on, its data seeded, and an HTTP client."""
    from fhir_server.app import create_app

    secure = settings.model_copy(update={"dev_mode": False, "base_url": FHIR, "auth_password_time_cost": 1,
                                         "auth_password_memory_kib": 64})
    app = create_app(secure)
    async with app.router.lifespan_context(app):
        runtime = app.state.runtime
        ctx = RequestContext(DEV_PRINCIPAL, FHIR)
        for resource in SEED:
            await runtime.services.resources.update(ctx, resource["resourceType"], resource["id"], resource)
        await add_app(app.state.auth)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
            yield http, app


def bearer(token: dict[str, Any] | str) -> dict[str, str]:
    value = token if isinstance(token, str) else token["access_token"]
    return {"authorization": f"Bearer {value}"}


def ids(bundle: dict[str, Any], mode: str = "match") -> set[str]:
    return {entry["resource"]["id"] for entry in bundle.get("entry", ())
            if entry.get("search", {}).get("mode", "match") == mode}


async def user_token(http: httpx.AsyncClient, app: Any, username: str, role: str, scope: str, **extra: Any) -> dict[str, Any]:
    await add_user(app.state.auth, username, role, **extra)
    patient = "p1" if "launch/patient" in scope and role != "patient" else None
    return await login_and_token(http, username, scope=scope, patient=patient)


async def test_no_token_is_401_and_discovery_is_public(server):
    http, _ = server
    refused = await http.get("/fhir/Patient/p1")
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Bearer")
    assert refused.json()["resourceType"] == "OperationOutcome"
    assert (await http.get("/fhir/Observation", headers=bearer("not-a-token"))).status_code == 401
    metadata = (await http.get("/fhir/metadata")).json()
    security = metadata["rest"][0]["security"]
    assert security["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"
    uris = {e["url"]: e["valueUri"] for e in security["extension"][0]["extension"]}
    assert uris["token"] == f"{BASE}/auth/token"
    smart = (await http.get("/fhir/.well-known/smart-configuration")).json()
    assert smart["token_endpoint"] == f"{BASE}/auth/token"


async def test_patient_sees_only_their_own_compartment(server):
    http, app = server
    token = await user_token(http, app, "pat", "patient", "openid fhirUser patient/*.rs", fhir_user="Patient/p1")
    assert token["patient"] == "p1"
    headers = bearer(token)
    assert (await http.get("/fhir/Patient/p1", headers=headers)).status_code == 200
    assert (await http.get("/fhir/Observation/o1", headers=headers)).status_code == 200
    for path in ("/fhir/Patient/p3", "/fhir/Observation/o3", "/fhir/Observation/o3/_history/1",
                 "/fhir/Observation/o3/_history"):
        refused = await http.get(path, headers=headers)
        assert refused.status_code in (403, 404), path
        assert "Chen" not in refused.text and "Haemoglobin" not in refused.text
    searched = (await http.get("/fhir/Observation", headers=headers)).json()
    assert ids(searched) == {"o1"}
    included = (await http.get("/fhir/Observation?_include=Observation:subject&_include=Observation:performer",
                               headers=headers)).json()
    assert ids(included) == {"o1"}
    # the performer is a Practitioner: shared data a patient may read
    assert ids(included, "include") == {"p1", "sup1"}
    assert ids((await http.get("/fhir/Patient", headers=headers)).json()) == {"p1"}
    history = (await http.get("/fhir/Observation/_history", headers=headers)).json()
    assert {entry["resource"]["id"] for entry in history["entry"]} == {"o1"}
    system = (await http.get("/fhir?_type=Patient,Observation", headers=headers)).json()
    assert ids(system) == {"p1", "o1"}
    # read-only scopes: no writes, even to their own record
    written = await http.post("/fhir/Observation", json=observation("p1"), headers=headers)
    assert written.status_code == 403


async def test_scopes_limit_the_types(server):
    http, app = server
    token = await user_token(http, app, "pat2", "patient", "openid fhirUser patient/Observation.rs",
                             fhir_user="Patient/p1")
    headers = bearer(token)
    assert (await http.get("/fhir/Observation/o1", headers=headers)).status_code == 200
    assert (await http.get("/fhir/Patient/p1", headers=headers)).status_code == 403
    assert (await http.get("/fhir/Encounter", headers=headers)).status_code == 403


async def test_doctor_sees_all_patients_and_audit_events_cannot_be_changed(server):
    http, app = server
    headers = bearer(await user_token(http, app, "doc", "doctor", "openid fhirUser user/*.cruds"))
    assert ids((await http.get("/fhir/Observation", headers=headers)).json()) == {"o1", "o2", "o3"}
    created = await http.post("/fhir/Observation", json=observation("p3"), headers=headers)
    assert created.status_code == 201, created.text
    audit = {"resourceType": "AuditEvent", "id": "a1", "type": {"code": "rest"}, "recorded": "2026-11-23T10:00:00Z",
             "agent": [{"requestor": True}], "source": {"observer": {"display": "x"}}}
    assert (await http.put("/fhir/AuditEvent/a1", json=audit, headers=headers)).status_code == 403
    assert (await http.delete("/fhir/AuditEvent/a1", headers=headers)).status_code == 403


async def test_trainee_sees_and_writes_only_the_supervisors_patients(server):
    http, app = server
    headers = bearer(await user_token(http, app, "trainee", "trainee", "openid fhirUser user/*.cruds"))
    # p1 names the supervisor as general practitioner, p2 had an encounter with them; p3 is no one's
    assert ids((await http.get("/fhir/Patient", headers=headers)).json()) == {"p1", "p2"}
    assert ids((await http.get("/fhir/Observation", headers=headers)).json()) == {"o1", "o2"}
    assert (await http.get("/fhir/Observation/o3", headers=headers)).status_code == 403
    assert (await http.post("/fhir/Observation", json=observation("p1"), headers=headers)).status_code == 201
    refused = await http.post("/fhir/Observation", json=observation("p3"), headers=headers)
    assert refused.status_code == 403
    assert refused.json()["resourceType"] == "OperationOutcome"
    moved = {**SEED[-2], "subject": {"reference": "Patient/p3"}}  # o2, moved to a patient outside
    assert (await http.put("/fhir/Observation/o2", json=moved, headers=headers)).status_code == 403


async def test_bundle_entries_are_checked_one_by_one(server):
    http, app = server
    headers = bearer(await user_token(http, app, "trainee2", "trainee", "openid fhirUser user/*.cruds"))
    entries = [{"resource": observation(p), "request": {"method": "POST", "url": "Observation"}} for p in ("p1", "p3")]
    transaction = await http.post("/fhir", json={"resourceType": "Bundle", "type": "transaction", "entry": entries},
                                  headers=headers)
    assert transaction.status_code == 403
    batch = await http.post("/fhir", json={"resourceType": "Bundle", "type": "batch", "entry": [
        *entries, {"request": {"method": "GET", "url": "Observation/o3"}}]}, headers=headers)
    assert batch.status_code == 200
    statuses = [entry["response"]["status"] for entry in batch.json()["entry"]]
    assert statuses[0].startswith("201") and statuses[1].startswith("403") and statuses[2].startswith("403")


async def test_backend_service_reads_everything_and_writes_nothing_outside_its_scopes(server):
    http, app = server
    key, jwks = rsa_key()
    await add_backend(app.state.auth, jwks=jwks, scopes="system/*.rs")
    response = await http.post("/auth/token", data={
        "grant_type": "client_credentials", "scope": "system/*.rs",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion(key, "backend", f"{BASE}/auth/token")})
    assert response.status_code == 200, response.text
    headers = bearer(response.json()["access_token"])
    assert ids((await http.get("/fhir/Observation", headers=headers)).json()) == {"o1", "o2", "o3"}
    assert (await http.post("/fhir/Observation", json=observation("p1"), headers=headers)).status_code == 403


async def test_every_access_is_audited_and_admins_search_the_trail(server):
    http, app = server
    headers = bearer(await user_token(http, app, "doc2", "doctor", "openid fhirUser user/*.cruds"))
    trail = app.state.runtime.audit
    await trail.catch_up()
    assert (await http.get("/fhir/Observation/o1", headers=headers)).status_code == 200
    assert (await http.get("/fhir/Observation?subject=Patient/p2", headers=headers)).status_code == 200
    assert (await http.post("/fhir/Observation", json=observation("p3"), headers=headers)).status_code == 201
    assert (await http.get("/fhir/Observation/o3/_history", headers=headers)).status_code == 200
    assert (await http.get("/fhir/Patient/p1")).status_code == 401
    assert await trail.catch_up() >= 5
    admin = bearer(await user_token(http, app, "admin", "admin", "openid user/AuditEvent.rs"))
    assert (await http.get("/fhir/Observation/o1", headers=admin)).status_code == 403  # no clinical data
    bundle = (await http.get("/fhir/AuditEvent?_count=100&_sort=date", headers=admin)).json()
    events = [entry["resource"] for entry in bundle["entry"]]
    by_kind = {event["subtype"][0]["code"]: event for event in events if event["type"]["code"] == "rest"}
    read = by_kind["read"]
    assert read["action"] == "R" and read["outcome"] == "0"
    assert any(e["what"]["reference"] == "Patient/p1" for e in read["entity"] if "what" in e)
    assert "doctor" in {agent.get("role", [{}])[0].get("text") for agent in read["agent"]}
    search = by_kind["search-type"]
    query = next(entity["query"] for entity in search["entity"] if "query" in entity)
    assert "subject=Patient" in base64.b64decode(query).decode()
    assert by_kind["create"]["action"] == "C"
    assert any(e["what"]["reference"] == "Patient/p3" for e in by_kind["create"]["entity"] if "what" in e)
    assert "history-instance" in by_kind
    assert any(event["outcome"] == "4" and event["agent"][0].get("altId") == "anonymous" for event in events)
    # the admin's refused read is itself on the trail (recorded after this search began: catch up again)
    await trail.catch_up()
    again = (await http.get("/fhir/AuditEvent?outcome=4&_count=100", headers=admin)).json()
    assert any("outside" in e["resource"].get("outcomeDesc", "") or "administrators" in
               e["resource"].get("outcomeDesc", "") for e in again["entry"])
    # and no one changes it
    some = events[0]["id"]
    assert (await http.delete(f"/fhir/AuditEvent/{some}", headers=headers)).status_code == 403
