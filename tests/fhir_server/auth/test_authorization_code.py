"""The authorization code flow over HTTP: standalone and EHR launch, PKCE, aud, redirect URIs, state,
the login, picker and consent pages, the token response and the ID token."""

from __future__ import annotations

from urllib.parse import urlencode

import httpx
import pytest
from authlib.integrations.httpx_client import AsyncOAuth2Client
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.fhir_server.auth.harness import (
    PASSWORD,
    REDIRECT,
    Browser,
    add_app,
    add_user,
    authorize_params,
    callback,
    exchange,
    hidden,
    login_and_token,
    offered_scopes,
    pkce,
)


@pytest.fixture
async def setup(auth):
    await add_app(auth)
    await add_user(auth, "pat", "patient")
    await add_user(auth, "doc", "doctor")


async def test_patient_standalone_launch_with_authlib_client(http, app, auth, setup):
    """A SMART client library (authlib's OAuth 2 client) through the whole flow."""
    client = AsyncOAuth2Client("app", redirect_uri=REDIRECT, code_challenge_method="S256",
                               scope="launch/patient openid fhirUser offline_access patient/*.rs",
                               transport=httpx.ASGITransport(app=app), base_url="http://localhost")
    verifier = pkce()[0]
    url, state = client.create_authorization_url("http://localhost/auth/authorize", code_verifier=verifier,
                                                 aud="http://localhost/fhir")
    browser = Browser(http)
    page = await http.get(url)
    assert page.status_code == 200 and "Sign in" in page.text
    page = await browser.login(page, "pat")
    assert 'value="consent"' in page.text
    redirect = await browser.consent(page)
    token = await client.fetch_token("http://localhost/auth/token", authorization_response=redirect.headers["location"],
                                     code_verifier=verifier)
    assert token["token_type"] == "Bearer"
    assert token["patient"] == "p1"
    assert token["need_patient_banner"] is True
    assert token["smart_style_url"] == "http://localhost/auth/smart-style.json"
    assert set(token["scope"].split()) == {"launch/patient", "openid", "fhirUser", "offline_access", "patient/*.rs"}
    assert 0 < token["expires_in"] <= 3600
    assert token["refresh_token"] and token["id_token"]
    assert callback(redirect)["state"] == state
    read = await client.get("/fhir/Patient/p1")
    assert read.status_code == 200
    assert (await client.get("/fhir/Patient/p3")).status_code == 403
    await client.aclose()


async def test_token_response_headers_and_id_token(http, auth, setup):
    verifier, challenge = pkce()
    result = callback(await Browser(http).authorize(authorize_params(challenge, nonce="n-0S6"), "pat"))
    response = await exchange(http, result["code"], verifier)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    token = response.json()
    jwks = KeySet.import_key_set((await http.get("/auth/jwks")).json())
    id_token = jwt.decode(token["id_token"], jwks, algorithms=["RS256"])
    assert id_token.header["alg"] == "RS256" and id_token.header["kid"] == auth.keys.active.kid
    claims = id_token.claims
    assert claims["iss"] == "http://localhost/fhir"
    assert claims["aud"] == "app"
    assert claims["fhirUser"] == "http://localhost/fhir/Patient/p1"
    assert claims["nonce"] == "n-0S6"
    assert claims["sub"] and claims["exp"] > claims["iat"]


async def test_no_fhir_user_claim_without_the_scope(http, setup):
    token = await login_and_token(http, "pat", scope="openid patient/*.rs")
    jwks = KeySet.import_key_set((await http.get("/auth/jwks")).json())
    claims = jwt.decode(token["id_token"], jwks, algorithms=["RS256"]).claims
    assert "fhirUser" not in claims
    assert "refresh_token" not in token


async def test_authorize_by_post(http, setup):
    verifier, challenge = pkce()
    result = callback(await Browser(http).authorize(authorize_params(challenge), "pat", method="POST"))
    assert result["state"] == "st4te"
    assert (await exchange(http, result["code"], verifier)).status_code == 200


@pytest.mark.parametrize("change", [
    {"code_challenge": None},
    {"code_challenge": ""},
    {"code_challenge": "   "},
    {"code_challenge_method": "plain"},
    {"code_challenge_method": None},
    {"code_challenge_method": "S512"},
    {"code_challenge": "short"},
])
async def test_authorize_without_proper_pkce_is_400(http, setup, change):
    params = authorize_params(pkce()[1])
    for key, value in change.items():
        if value is None:
            params.pop(key)
        else:
            params[key] = value
    response = await Browser(http).start(params)
    assert response.status_code == 400
    assert "location" not in response.headers


@pytest.mark.parametrize("aud", ["http://localhost/other", "https://localhost/fhir", "", None])
async def test_authorize_for_another_server_is_400(http, setup, aud):
    params = authorize_params(pkce()[1])
    if aud is None:
        params.pop("aud")
    else:
        params["aud"] = aud
    response = await Browser(http).start(params)
    assert response.status_code == 400
    assert "aud" in response.text


@pytest.mark.parametrize("verifier_kind", ["missing", "blank", "wrong", "challenge", "malformed"])
async def test_token_with_bad_verifier_is_400(http, setup, verifier_kind):
    verifier, challenge = pkce()
    result = callback(await Browser(http).authorize(authorize_params(challenge), "pat"))
    sent = {"missing": None, "blank": "", "wrong": pkce()[0], "challenge": challenge, "malformed": "a b"}[verifier_kind]
    response = await exchange(http, result["code"], sent)
    assert response.status_code == 400
    assert response.json()["error"] in ("invalid_grant", "invalid_request")


async def test_redirect_uri_must_match_exactly(http, setup):
    params = authorize_params(pkce()[1], redirect_uri=REDIRECT + "/other")
    response = await Browser(http).start(params)
    assert response.status_code == 400 and "location" not in response.headers
    params = authorize_params(pkce()[1], redirect_uri=REDIRECT.upper())
    assert (await Browser(http).start(params)).status_code == 400
    verifier, challenge = pkce()
    result = callback(await Browser(http).authorize(authorize_params(challenge), "pat"))
    response = await exchange(http, result["code"], verifier, redirect_uri=REDIRECT + "?x=1")
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


async def test_unknown_client_is_refused_without_redirect(http, setup):
    response = await Browser(http).start(authorize_params(pkce()[1], client_id="nobody"))
    assert response.status_code == 400 and "location" not in response.headers


async def test_errors_after_the_redirect_is_known_go_back_with_state(http, setup):
    params = authorize_params(pkce()[1], response_type="token")
    response = await Browser(http).start(params)
    result = callback(response)
    assert result["error"] == "unsupported_response_type" and result["state"] == "st4te"
    params = authorize_params(pkce()[1], scope="system/*.rs")
    result = callback(await Browser(http).start(params))
    assert result["error"] == "invalid_scope" and result["state"] == "st4te"


async def test_code_is_single_use_and_a_replay_revokes_its_tokens(http, setup):
    verifier, challenge = pkce()
    result = callback(await Browser(http).authorize(authorize_params(challenge), "pat"))
    first = await exchange(http, result["code"], verifier)
    assert first.status_code == 200
    access = first.json()["access_token"]
    assert (await http.get("/fhir/Patient/p1", headers={"authorization": f"Bearer {access}"})).status_code == 200
    again = await exchange(http, result["code"], verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert (await http.get("/fhir/Patient/p1", headers={"authorization": f"Bearer {access}"})).status_code == 401
    refreshed = await http.post("/auth/token", data={"grant_type": "refresh_token", "client_id": "app",
                                                     "refresh_token": first.json()["refresh_token"]})
    assert refreshed.status_code == 400


async def test_code_is_bound_to_its_client(http, auth, setup):
    await add_app(auth, "other")
    verifier, challenge = pkce()
    result = callback(await Browser(http).authorize(authorize_params(challenge), "pat"))
    stolen = await exchange(http, result["code"], verifier, client_id="other")
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
    assert (await exchange(http, result["code"], verifier)).status_code == 200


async def test_the_user_can_untick_scopes(http, setup):
    verifier, challenge = pkce()
    browser = Browser(http)
    page = await browser.login(await browser.start(authorize_params(challenge)), "pat")
    assert set(offered_scopes(page.text)) == {"openid", "fhirUser", "offline_access", "patient/*.rs"}
    result = callback(await browser.consent(page, untick=("offline_access", "fhirUser")))
    token = (await exchange(http, result["code"], verifier)).json()
    assert set(token["scope"].split()) == {"launch/patient", "openid", "patient/*.rs"}
    assert "refresh_token" not in token


async def test_deny_sends_access_denied(http, setup):
    browser = Browser(http)
    page = await browser.login(await browser.start(authorize_params(pkce()[1])), "pat")
    result = callback(await browser.consent(page, decision="deny"))
    assert result == {"error": "access_denied", "error_description": "The user did not approve the request.",
                      "state": "st4te"}


async def test_doctor_picks_a_patient_and_an_encounter(http, setup):
    verifier, challenge = pkce()
    browser = Browser(http)
    params = authorize_params(challenge, scope="launch/patient launch/encounter openid fhirUser patient/*.rs")
    page = await browser.login(await browser.start(params), "doc")
    assert 'value="patient"' in page.text and "Bram de Vries" in page.text
    page = await browser.post(page, query="chen", action="search")
    assert "Chen Wei" in page.text and "Bram de Vries" not in page.text
    refused = await browser.post(page, query="chen", patient="p2", action="choose")
    assert "Choose one of the patients listed" in refused.text
    page = await browser.post(page, query="chen", patient="p3", action="choose")
    assert 'value="encounter"' in page.text
    page = await browser.post(page, encounter="p3-enc2")
    assert 'value="consent"' in page.text and "p3" in page.text
    result = callback(await browser.consent(page))
    token = (await exchange(http, result["code"], verifier)).json()
    assert token["patient"] == "p3" and token["encounter"] == "p3-enc2"
    assert token["need_patient_banner"] is True
    headers = {"authorization": f"Bearer {token['access_token']}"}
    assert (await http.get("/fhir/Observation/o3", headers=headers)).status_code == 200
    assert (await http.get("/fhir/Observation/o1", headers=headers)).status_code == 403


async def test_ehr_launch_carries_the_launch_context(http, auth, setup):
    doctor = await login_and_token(http, "doc", scope="openid user/*.rs")
    response = await http.post("/auth/launch", json={"patient": "p2", "encounter": "e9"},
                               headers={"authorization": f"Bearer {doctor['access_token']}"})
    assert response.status_code == 201
    launch = response.json()["launch"]
    assert response.json()["iss"] == "http://localhost/fhir"
    verifier, challenge = pkce()
    params = authorize_params(challenge, scope="launch openid patient/*.rs", launch=launch)
    result = callback(await Browser(http).authorize(params, "doc"))
    token = (await exchange(http, result["code"], verifier)).json()
    assert token["patient"] == "p2" and token["encounter"] == "e9"
    assert token["need_patient_banner"] is False
    # a launch context is single-use
    again = callback(await Browser(http).start(authorize_params(pkce()[1], scope="launch patient/*.rs",
                                                                launch=launch)))
    assert again["error"] == "invalid_request"


async def test_ehr_launch_context_is_bound_to_the_user_who_made_it(http, auth, setup):
    await add_user(auth, "doc2", "doctor", fhir_user="Practitioner/doc2")
    doctor = await login_and_token(http, "doc", scope="openid user/*.rs")
    launch = (await http.post("/auth/launch", json={"patient": "p2"},
                              headers={"authorization": f"Bearer {doctor['access_token']}"})).json()["launch"]
    params = authorize_params(pkce()[1], scope="launch patient/*.rs", launch=launch)
    assert callback(await Browser(http).authorize(params, "doc2"))["error"] == "access_denied"


async def test_unknown_launch_and_launch_without_the_launch_scope(http, setup):
    result = callback(await Browser(http).start(authorize_params(pkce()[1], scope="launch patient/*.rs",
                                                                 launch="nope")))
    assert result["error"] == "invalid_request"


async def test_launch_contexts_need_a_clinician(http, setup):
    token = await login_and_token(http, "pat")
    response = await http.post("/auth/launch", json={"patient": "p1"},
                               headers={"authorization": f"Bearer {token['access_token']}"})
    assert response.status_code == 403
    assert (await http.post("/auth/launch", json={"patient": "p1"})).status_code == 401


async def test_confidential_symmetric_client(http, auth, setup):
    await add_app(auth, "secret-app", secret="s3cret-s3cret-s3cret", public=False)
    verifier, challenge = pkce()
    result = callback(await Browser(http).authorize(authorize_params(challenge, client_id="secret-app"), "pat"))
    wrong = await exchange(http, result["code"], verifier, auth=("secret-app", "wrong-wrong-wrong"))
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert wrong.headers["www-authenticate"].startswith("Basic")
    missing = await exchange(http, result["code"], verifier, client_id="secret-app")
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_client"
    result = callback(await Browser(http).authorize(authorize_params(challenge, client_id="secret-app"), "pat"))
    good = await exchange(http, result["code"], verifier, auth=("secret-app", "s3cret-s3cret-s3cret"))
    assert good.status_code == 200, good.text


async def test_bad_grant_type_and_bad_forms(http, setup):
    response = await http.post("/auth/token", data={"grant_type": "password", "client_id": "app"})
    assert response.status_code == 400 and response.json()["error"] == "unsupported_grant_type"
    response = await http.post("/auth/token", json={"grant_type": "authorization_code"})
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    response = await http.post("/auth/token", data={"grant_type": "authorization_code", "client_id": "app",
                                                    "code": "made-up", "redirect_uri": REDIRECT,
                                                    "code_verifier": pkce()[0]})
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


async def test_csrf_and_the_cookie_bind_the_forms(http, setup):
    browser = Browser(http)
    page = await browser.start(authorize_params(pkce()[1]))
    fields = hidden(page.text)
    forged = await http.post("/auth/interact", data={**fields, "csrf": "forged", "username": "pat",
                                                     "password": PASSWORD})
    assert forged.status_code == 400
    http.cookies.clear()
    no_cookie = await http.post("/auth/interact", data={**fields, "username": "pat", "password": PASSWORD})
    assert no_cookie.status_code == 400


async def test_pages_are_not_cached_or_framed(http, setup):
    page = await Browser(http).start(authorize_params(pkce()[1]))
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert "httponly" in page.headers["set-cookie"].lower()


async def test_wrong_password_shows_the_form_again_and_is_audited(http, setup, audit_log):
    browser = Browser(http)
    page = await browser.login(await browser.start(authorize_params(pkce()[1])), "pat", password="not it at all")
    assert page.status_code == 200 and "Invalid username, password or one-time code" in page.text
    logins = [e for e in audit_log if e["subtype"][0]["code"] == "110122"]
    assert logins[-1]["outcome"] == "4"
    page = await browser.login(page, "pat")
    assert 'value="consent"' in page.text
    assert [e["outcome"] for e in audit_log if e["subtype"][0]["code"] == "110122"][-1] == "0"


async def test_token_grants_are_audited(http, setup, audit_log):
    await login_and_token(http, "pat")
    grants = [e for e in audit_log if e["subtype"][0]["system"] == "urn:ietf:rfc:6749"]
    assert grants[-1]["outcome"] == "0"
    assert grants[-1]["subtype"][0]["code"] == "authorization_code"
    assert {"reference": "Patient/p1"} in [e["what"] for e in grants[-1]["entity"]]
    await http.post("/auth/token", data={"grant_type": "authorization_code", "client_id": "app", "code": "x",
                                         "redirect_uri": REDIRECT})
    assert [e for e in audit_log if e["subtype"][0]["system"] == "urn:ietf:rfc:6749"][-1]["outcome"] == "4"


async def test_plain_http_outside_loopback_is_refused(app, setup):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ehr.example.org") as client:
        response = await client.get(f"/auth/authorize?{urlencode(authorize_params(pkce()[1]))}")
        assert response.status_code == 400 and "insecure_transport" in response.text
        response = await client.post("/auth/token", data={"grant_type": "client_credentials"})
        assert response.status_code == 400 and response.json()["error"] == "insecure_transport"
