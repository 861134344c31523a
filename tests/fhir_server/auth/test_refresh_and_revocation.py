"""Refresh tokens (only with offline_access / online_access, rotated, bound to the client, narrowing
only), introspection (client or bearer authentication) and revocation (RFC 7009)."""

from __future__ import annotations

import httpx
import pytest
from authlib.integrations.httpx_client import AsyncOAuth2Client

from tests.fhir_server.auth.harness import add_app, add_backend, add_user, assertion, login_and_token, rsa_key


@pytest.fixture
async def setup(auth):
    await add_app(auth)
    await add_user(auth, "pat", "patient")
    await add_user(auth, "doc", "doctor")


async def refresh(http, token, *, client_id="app", **extra):
    return await http.post("/auth/token", data={"grant_type": "refresh_token", "refresh_token": token,
                                                "client_id": client_id, **extra})


def bearer(token):
    return {"authorization": f"Bearer {token}"}


async def test_no_refresh_token_without_offline_or_online_access(http, setup):
    token = await login_and_token(http, "pat", scope="launch/patient patient/*.rs")
    assert "refresh_token" not in token


async def test_online_access_gives_a_shorter_refresh_token(http, auth, setup):
    token = await login_and_token(http, "pat", scope="launch/patient online_access patient/*.rs")
    record = await auth.codes.get_refresh(__import__("hashlib").sha256(token["refresh_token"].encode()).hexdigest())
    assert record.expires_at - record.issued_at == auth.settings.online_refresh_lifetime


async def test_refresh_rotates_and_the_old_token_is_revoked(http, setup):
    token = await login_and_token(http, "pat")
    first = await refresh(http, token["refresh_token"])
    assert first.status_code == 200, first.text
    new = first.json()
    assert new["refresh_token"] != token["refresh_token"]
    assert new["patient"] == "p1"
    assert set(new["scope"].split()) == set(token["scope"].split())
    assert first.headers["cache-control"] == "no-store"
    old = await refresh(http, token["refresh_token"])
    assert old.status_code == 400 and old.json()["error"] == "invalid_grant"
    # presenting a rotated token means it leaked: the whole grant is revoked, the newest tokens too
    assert (await refresh(http, new["refresh_token"])).status_code == 400
    assert (await http.get("/fhir/Patient/p1", headers=bearer(new["access_token"]))).status_code == 401


async def test_refresh_with_the_authlib_client(http, app, setup):
    token = await login_and_token(http, "pat")
    client = AsyncOAuth2Client("app", token=token, transport=httpx.ASGITransport(app=app), base_url="http://localhost")
    new = await client.refresh_token("http://localhost/auth/token", refresh_token=token["refresh_token"])
    assert new["access_token"] != token["access_token"]
    assert (await client.get("/fhir/Patient/p1")).status_code == 200
    await client.aclose()


async def test_refresh_can_narrow_but_never_widen(http, setup):
    token = await login_and_token(http, "doc", scope="openid offline_access user/*.rs")
    wider = await refresh(http, token["refresh_token"], scope="offline_access user/*.cruds")
    assert wider.status_code == 400 and wider.json()["error"] == "invalid_scope"
    other = await refresh(http, token["refresh_token"], scope="offline_access system/*.rs")
    assert other.status_code == 400
    narrower = await refresh(http, token["refresh_token"], scope="offline_access user/Observation.rs")
    assert narrower.status_code == 200, narrower.text
    assert narrower.json()["scope"] == "offline_access user/Observation.rs"
    back = await refresh(http, narrower.json()["refresh_token"], scope="offline_access user/*.rs")
    assert back.status_code == 400


async def test_refresh_token_is_bound_to_its_client(http, auth, setup):
    await add_app(auth, "other")
    token = await login_and_token(http, "pat")
    stolen = await refresh(http, token["refresh_token"], client_id="other")
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
    assert (await refresh(http, token["refresh_token"])).status_code == 200


async def test_refresh_of_a_disabled_account_is_refused(http, auth, setup):
    token = await login_and_token(http, "pat")
    await auth.accounts.set_disabled("pat", True)
    assert (await refresh(http, token["refresh_token"])).status_code == 400
    assert (await http.get("/fhir/Patient/p1", headers=bearer(token["access_token"]))).status_code == 401


async def test_revoked_access_token_is_401_at_the_resource_server(http, setup):
    token = await login_and_token(http, "pat")
    headers = bearer(token["access_token"])
    assert (await http.get("/fhir/Patient/p1", headers=headers)).status_code == 200
    response = await http.post("/auth/revoke", data={"token": token["access_token"], "client_id": "app",
                                                     "token_type_hint": "access_token"})
    assert response.status_code == 200
    refused = await http.get("/fhir/Patient/p1", headers=headers)
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    assert refused.json()["resourceType"] == "OperationOutcome"
    # the refresh token of the grant still works: only that access token was revoked
    assert (await refresh(http, token["refresh_token"])).status_code == 200


async def test_revoked_refresh_token_is_400_and_ends_its_access_tokens(http, app, setup):
    token = await login_and_token(http, "pat")
    client = AsyncOAuth2Client("app", transport=httpx.ASGITransport(app=app), base_url="http://localhost")
    response = await client.revoke_token("http://localhost/auth/revoke", token["refresh_token"],
                                         token_type_hint="refresh_token")
    assert response.status_code == 200
    await client.aclose()
    assert (await refresh(http, token["refresh_token"])).status_code == 400
    assert (await http.get("/fhir/Patient/p1", headers=bearer(token["access_token"]))).status_code == 401


async def test_only_the_owning_client_may_revoke(http, auth, setup):
    await add_app(auth, "other")
    token = await login_and_token(http, "pat")
    response = await http.post("/auth/revoke", data={"token": token["access_token"], "client_id": "other"})
    assert response.status_code == 400
    assert (await http.get("/fhir/Patient/p1", headers=bearer(token["access_token"]))).status_code == 200
    unknown = await http.post("/auth/revoke", data={"token": "not-a-token", "client_id": "app"})
    assert unknown.status_code == 200


async def test_introspection_with_client_authentication(http, auth, setup):
    await add_app(auth, "rs", secret="resource-server-secret", public=False)
    token = await login_and_token(http, "pat")
    # a confidential client may introspect only its own tokens...
    response = await http.post("/auth/introspect", data={"token": token["access_token"]},
                               auth=("rs", "resource-server-secret"))
    assert response.status_code == 200 and response.json() == {"active": False}
    # ...a backend service (a resource server registered with a key) any token
    private, jwks = rsa_key()
    await add_backend(auth, "resource-server", jwks=jwks)
    form = {"token": token["access_token"],
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion(private, "resource-server", "http://localhost/auth/token")}
    info = (await http.post("/auth/introspect", data=form)).json()
    assert info["active"] is True
    assert info["client_id"] == "app" and info["patient"] == "p1" and info["scope"] == token["scope"]
    assert info["exp"] > info["iat"] and info["sub"] and info["role"] == "patient"
    wrong = await http.post("/auth/introspect", data={"token": token["access_token"]}, auth=("rs", "nope-nope-nope"))
    assert wrong.status_code == 401


async def test_introspection_with_a_bearer_token(http, auth, setup):
    await add_user(auth, "root", "admin")
    token = await login_and_token(http, "pat")
    admin = await login_and_token(http, "root", scope="openid user/AuditEvent.rs")
    info = (await http.post("/auth/introspect", data={"token": token["access_token"]},
                            headers=bearer(admin["access_token"]))).json()
    assert info["active"] is True and info["sub"] == token_sub(info)
    # the same client's own token
    own = (await http.post("/auth/introspect", data={"token": token["refresh_token"]},
                           headers=bearer(token["access_token"]))).json()
    assert own["active"] is True and own["token_type"] == "refresh_token"
    await http.post("/auth/revoke", data={"token": token["access_token"], "client_id": "app"})
    revoked = (await http.post("/auth/introspect", data={"token": token["access_token"]},
                               headers=bearer(admin["access_token"]))).json()
    assert revoked == {"active": False}
    garbage = (await http.post("/auth/introspect", data={"token": "garbage"},
                               headers=bearer(admin["access_token"]))).json()
    assert garbage == {"active": False}
    bad_bearer = await http.post("/auth/introspect", data={"token": "x"}, headers=bearer("not.a.token"))
    assert bad_bearer.status_code == 401


def token_sub(info):
    return info["sub"]
