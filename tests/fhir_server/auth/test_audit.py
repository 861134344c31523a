"""AuditEvents (IHE BALP) for reads, searches, writes, deletes, operations, logins, token grants and
denials: each one passes R4 validation and carries who, what, where from and the outcome."""

from __future__ import annotations

import base64

import pytest

from fhir_server.auth import audit
from fhir_server.context import Principal
from resources import validate
from tests.fhir_server.auth.harness import add_app, add_user, login_and_token

DOCTOR = Principal(subject="acc-1", role="doctor", scopes=frozenset({"user/*.cruds"}), client_id="app",
                   fhir_user="Practitioner/d1")
PATIENT = Principal(subject="acc-2", role="patient", scopes=frozenset({"patient/*.rs"}), client_id="app",
                    fhir_user="Patient/p1", patient="p1")
SYSTEM = Principal(subject="backend", role="system", scopes=frozenset({"system/*.rs"}), client_id="backend")


def errors(event):
    return [(i.severity, i.expression, i.diagnostics) for i in validate(event) if i.severity in ("error", "fatal")]


@pytest.mark.parametrize(("principal", "interaction", "action"), [
    (DOCTOR, "read", "R"), (DOCTOR, "vread", "R"), (PATIENT, "history-instance", "R"), (DOCTOR, "create", "C"),
    (DOCTOR, "update", "U"), (DOCTOR, "patch", "U"), (DOCTOR, "delete", "D"), (SYSTEM, "read", "R"),
])
def test_instance_interactions(principal, interaction, action):
    event = audit.rest_event(principal, interaction=interaction, res_type="Observation", res_id="o1", version_id=3,
                             patients=["p1"], network_address="10.1.2.3")
    assert errors(event) == []
    assert event["type"]["code"] == "rest" and event["subtype"][0]["code"] == interaction
    assert event["action"] == action and event["outcome"] == "0"
    entities = {e["role"]["code"]: e for e in event["entity"]}
    assert entities["4"]["what"]["reference"] == "Observation/o1/_history/3"
    assert entities["1"]["what"]["reference"] == "Patient/p1"
    client = next(a for a in event["agent"] if a["type"]["coding"][0]["code"] == "110153")
    assert client["who"]["identifier"]["value"] == principal.client_id
    assert client["network"]["address"] == "10.1.2.3"
    if principal.role != "system":
        user = next(a for a in event["agent"] if a["type"]["coding"][0]["code"] == "IRCP")
        assert user["requestor"] is True and user["who"]["reference"] == principal.fhir_user
        assert user["role"][0]["coding"][0]["code"] == principal.role
    else:
        assert client["requestor"] is True


def test_search_records_the_query():
    event = audit.rest_event(PATIENT, interaction="search-type", res_type="Observation",
                             query="code=http://loinc.org|718-7&_count=10")
    assert errors(event) == []
    assert event["action"] == "E"
    query = next(e for e in event["entity"] if e["role"]["code"] == "24")
    assert base64.b64decode(query["query"]).decode() == "code=http://loinc.org|718-7&_count=10"
    assert {"reference": "Patient/p1"} in [e.get("what") for e in event["entity"]]


def test_operation_and_denial():
    event = audit.rest_event(DOCTOR, interaction="operation", res_type="Patient", res_id="p1", operation="$everything")
    assert errors(event) == [] and event["subtype"][1]["code"] == "$everything"
    denied = audit.denial_event(PATIENT, "read", "Observation", "Observation/o3 is outside what this token may read",
                                res_id="o3")
    assert errors(denied) == []
    assert denied["outcome"] == "4" and "outside" in denied["outcomeDesc"]


async def test_flow_events_all_validate(http, auth, audit_log):
    await add_app(auth)
    await add_user(auth, "pat", "patient")
    await login_and_token(http, "pat")
    await http.post("/auth/token", data={"grant_type": "refresh_token", "refresh_token": "nope", "client_id": "app"})
    token = await login_and_token(http, "pat")
    await http.post("/auth/revoke", data={"token": token["refresh_token"], "client_id": "app"})
    kinds = [(e["type"]["code"], e["subtype"][0]["code"], e["outcome"]) for e in audit_log]
    assert ("110114", "110122", "0") in kinds  # login
    assert ("110114", "authorization_code", "0") in kinds  # token granted
    assert ("110114", "refresh_token", "4") in kinds  # token refused
    assert ("110114", "revocation", "0") in kinds
    for event in audit_log:
        assert errors(event) == [], event
