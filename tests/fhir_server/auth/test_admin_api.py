"""The admin HTTP API: accounts, clients and keys, for administrators only."""

from __future__ import annotations

import pytest

from tests.fhir_server.auth.harness import PASSWORD, add_app, add_user, login_and_token, rsa_key


@pytest.fixture
async def admin(http, auth):
    await add_app(auth)
    await add_user(auth, "root", "admin")
    token = await login_and_token(http, "root", scope="openid user/AuditEvent.rs")
    return {"authorization": f"Bearer {token['access_token']}"}


async def test_only_admins(http, auth, admin):
    await add_user(auth, "doc", "doctor")
    doctor = await login_and_token(http, "doc", scope="user/*.cruds")
    assert (await http.get("/auth/admin/users", headers={"authorization": f"Bearer {doctor['access_token']}"})
            ).status_code == 403
    response = await http.get("/auth/admin/users")
    assert response.status_code == 401 and response.json()["resourceType"] == "OperationOutcome"


async def test_accounts(http, admin):
    response = await http.post("/auth/admin/users", headers=admin, json={
        "username": "t1", "role": "trainee", "password": PASSWORD, "fhir_user": "Practitioner/t1",
        "supervisor": "Practitioner/sup1", "tenure_end": "2030-06-30"})
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["role"] == "trainee" and "password_hash" not in created and created["tenure_end_at"] > 0
    assert (await http.post("/auth/admin/users", headers=admin, json={
        "username": "t1", "role": "analyst", "password": PASSWORD})).status_code == 409
    bad = await http.post("/auth/admin/users", headers=admin, json={"username": "x1", "role": "nurse",
                                                                    "password": PASSWORD})
    assert bad.status_code == 400 and bad.json()["resourceType"] == "OperationOutcome"
    names = [u["username"] for u in (await http.get("/auth/admin/users", headers=admin)).json()]
    assert names == ["root", "t1"]
    assert (await http.post("/auth/admin/users/t1/disable", headers=admin)).json()["disabled"] is True
    assert (await http.post("/auth/admin/users/t1/enable", headers=admin)).json()["disabled"] is False
    totp = (await http.post("/auth/admin/users/t1/totp", headers=admin)).json()
    assert totp["provisioning_uri"].startswith("otpauth://") and len(totp["secret"]) >= 16
    assert (await http.get("/auth/admin/users/t1", headers=admin)).json()["totp_enrolled"] is True
    reset = (await http.post("/auth/admin/users/t1/password-reset", headers=admin)).json()
    assert reset["reset_url"].startswith("http://localhost/auth/password-reset?token=")
    tenure = await http.post("/auth/admin/users/t1/tenure", headers=admin, json={"tenure_end": "2031-01-31"})
    assert tenure.status_code == 200
    assert (await http.get("/auth/admin/users/nobody", headers=admin)).status_code == 404


async def test_clients_and_keys(http, admin):
    _, jwks = rsa_key()
    response = await http.post("/auth/admin/clients", headers=admin, json={
        "client_id": "svc", "scopes": "system/*.rs", "jwks": jwks})
    assert response.status_code == 201, response.text
    assert response.json()["auth_method"] == "private_key_jwt"
    response = await http.post("/auth/admin/clients", headers=admin, json={
        "client_id": "web", "scopes": "launch openid patient/*.rs", "redirect_uris": ["https://web.example/cb"],
        "secret": "a-long-enough-secret"})
    assert response.json()["auth_method"] == "client_secret_basic"
    refused = await http.post("/auth/admin/clients", headers=admin, json={
        "client_id": "web2", "scopes": "system/*.rs", "redirect_uris": ["https://web.example/cb"], "public": True})
    assert refused.status_code == 400
    ids = [c["client_id"] for c in (await http.get("/auth/admin/clients", headers=admin)).json()]
    assert ids == ["app", "svc", "web"]
    assert (await http.delete("/auth/admin/clients/web", headers=admin)).status_code == 204
    assert (await http.get("/auth/admin/clients/web", headers=admin)).status_code == 404
    keys = (await http.get("/auth/admin/keys", headers=admin)).json()["keys"]
    rotated = (await http.post("/auth/admin/keys/rotate", headers=admin)).json()
    assert rotated["active_kid"] not in {k["kid"] for k in keys}
    assert len(rotated["keys"]) == 2
    # the admin's token (signed by the old key) still works
    assert (await http.get("/auth/admin/keys", headers=admin)).status_code == 200
