"""Trainees: only their supervisor's patients, and nothing after their tenure, with no one having to act."""

from __future__ import annotations

import asyncio
import time

import pytest

from fhir_server.auth.repositories import accounts as account_rows
from tests.fhir_server.auth.harness import (
    Browser,
    add_app,
    add_backend,
    add_user,
    assertion,
    authorize_params,
    callback,
    exchange,
    login_and_token,
    pkce,
    rsa_key,
)


@pytest.fixture
async def setup(auth):
    await add_app(auth)
    await add_user(auth, "trainee", "trainee")
    await add_user(auth, "doc", "doctor")


def bearer(token):
    return {"authorization": f"Bearer {token['access_token']}"}


async def test_trainee_sees_linked_patients_only(http, setup):
    token = await login_and_token(http, "trainee", scope="openid fhirUser user/*.cruds")
    assert (await http.get("/fhir/Observation/o1", headers=bearer(token))).status_code == 200
    assert (await http.get("/fhir/Patient/p2", headers=bearer(token))).status_code == 200
    assert (await http.get("/fhir/Observation/o3", headers=bearer(token))).status_code == 403
    assert (await http.get("/fhir/Patient/p3", headers=bearer(token))).status_code == 403
    assert (await http.get("/fhir/Practitioner/sup1", headers=bearer(token))).status_code == 200
    found = (await http.get("/fhir/Observation", headers=bearer(token))).json()["filter"]
    assert found == [[["subject", "Patient/p1,Patient/p2"]], [["performer", "Patient/p1,Patient/p2"]]]


async def test_linkage_changes_are_seen(http, auth, setup, linked):
    token = await login_and_token(http, "trainee", scope="user/*.rs")
    assert (await http.get("/fhir/Patient/p3", headers=bearer(token))).status_code == 403
    linked["Practitioner/sup1"] = frozenset({"p1", "p2", "p3"})
    auth.links.forget()
    assert (await http.get("/fhir/Patient/p3", headers=bearer(token))).status_code == 200


async def test_patient_picker_offers_linked_patients_only(http, setup):
    browser = Browser(http)
    params = authorize_params(pkce()[1], scope="launch/patient patient/*.rs")
    page = await browser.login(await browser.start(params), "trainee")
    assert "Adaeze Okafor" in page.text and "Bram de Vries" in page.text and "Chen Wei" not in page.text
    refused = await browser.post(page, query="", patient="p3", action="choose")
    assert "Choose one of the patients listed" in refused.text


async def test_trainee_cannot_launch_an_unlinked_patient(http, auth, setup):
    token = await login_and_token(http, "trainee", scope="user/*.rs")
    response = await http.post("/auth/launch", json={"patient": "p3"}, headers=bearer(token))
    assert response.status_code == 403
    assert (await http.post("/auth/launch", json={"patient": "p1"}, headers=bearer(token))).status_code == 201
    # a launch the EHR backend made for p3 is refused for the trainee at consent
    private, jwks = rsa_key()
    await add_backend(auth, "ehr", jwks=jwks, scopes="system/*.rs")
    ehr = (await http.post("/auth/token", data={
        "grant_type": "client_credentials", "scope": "system/*.rs",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion(private, "ehr", "http://localhost/auth/token")})).json()
    launch = (await http.post("/auth/launch", json={"patient": "p3"}, headers=bearer(ehr))).json()["launch"]
    params = authorize_params(pkce()[1], scope="launch patient/*.rs", launch=launch)
    assert callback(await Browser(http).authorize(params, "trainee"))["error"] == "access_denied"


async def test_tokens_never_outlive_the_tenure(http, auth, setup):
    account = await auth.accounts.get("trainee")
    token = await login_and_token(http, "trainee", scope="offline_access user/*.rs")
    assert token["expires_in"] <= account.tenure_end_at - time.time() + 1
    claims = auth.tokens.decode(token["access_token"])
    assert claims.expires_at <= account.tenure_end_at and claims.tenure_end == account.tenure_end_at


async def test_after_the_tenure_everything_is_refused(http, auth, store, setup):
    account = await auth.accounts.get("trainee")
    ends = int(time.time()) + 3
    async with store.write() as tx:  # the tenure was always going to end in three seconds
        await account_rows.update(tx.db, account.account_id, now=int(time.time()), tenure_end_at=ends)
    verifier, challenge = pkce()
    result = callback(await Browser(http).authorize(authorize_params(challenge, scope="offline_access user/*.rs"),
                                                    "trainee"))
    token = (await exchange(http, result["code"], verifier)).json()
    assert token["expires_in"] <= 3
    assert (await http.get("/fhir/Patient/p1", headers=bearer(token))).status_code == 200
    await asyncio.sleep(max(ends - time.time(), 0) + 0.2)
    # no one acted: the token is refused, the refresh token too, introspection says inactive, login is denied
    assert (await http.get("/fhir/Patient/p1", headers=bearer(token))).status_code == 401
    refreshed = await http.post("/auth/token", data={"grant_type": "refresh_token", "client_id": "app",
                                                     "refresh_token": token["refresh_token"]})
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"
    doctor = await login_and_token(http, "doc", scope="user/*.rs")
    await add_user(auth, "root", "admin")
    admin = await login_and_token(http, "root", scope="user/AuditEvent.rs")
    for kind in ("access_token", "refresh_token"):
        info = await http.post("/auth/introspect", data={"token": token[kind]}, headers=bearer(admin))
        assert info.json() == {"active": False}, kind
    assert doctor
    response = await Browser(http).authorize(authorize_params(pkce()[1], scope="user/*.rs"), "trainee")
    assert "error=access_denied" in response.headers["location"]
