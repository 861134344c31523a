"""SMART Backend Services: client_credentials with private_key_jwt (RS384, ES384), registered JWKS or
JWKS URL, exp at most five minutes ahead, jti replay refused, system/ scopes within the registration,
short access tokens and no refresh tokens."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oauth2.rfc7523 import PrivateKeyJWT

from tests.fhir_server.auth.harness import ASSERTION_TYPE, add_backend, assertion, ec_key, rsa_key

TOKEN_URL = "http://localhost/auth/token"


async def token_request(http, client_assertion, *, scope="system/*.rs", grant_type="client_credentials",
                        assertion_type=ASSERTION_TYPE):
    data = {"grant_type": grant_type, "client_assertion_type": assertion_type, "client_assertion": client_assertion}
    if scope is not None:
        data["scope"] = scope
    return await http.post("/auth/token", data=data)


@pytest.fixture
async def service_key(auth):
    private, jwks = rsa_key()
    await add_backend(auth, jwks=jwks)
    return private


async def test_rs384_client_credentials(http, service_key):
    response = await token_request(http, assertion(service_key, "backend", TOKEN_URL))
    assert response.status_code == 200, response.text
    token = response.json()
    assert token["token_type"] == "Bearer"
    assert 0 < token["expires_in"] <= 300
    assert token["scope"] == "system/*.rs"
    assert "refresh_token" not in token and "id_token" not in token
    assert response.headers["cache-control"] == "no-store" and response.headers["pragma"] == "no-cache"
    headers = {"authorization": f"Bearer {token['access_token']}"}
    assert (await http.get("/fhir/Observation/o3", headers=headers)).status_code == 200
    assert (await http.get("/fhir/Observation", headers=headers)).json() == {"filter": None}


async def test_es384_client_credentials(http, auth):
    private, jwks = ec_key()
    await add_backend(auth, "ec-backend", jwks=jwks)
    response = await token_request(http, assertion(private, "ec-backend", TOKEN_URL))
    assert response.status_code == 200, response.text


async def test_with_the_authlib_client(app, service_key):
    # authlib's assertions expire in an hour by default; SMART allows five minutes
    method = PrivateKeyJWT(TOKEN_URL, alg="RS384", claims={"exp": int(time.time()) + 240},
                           headers={"kid": service_key.kid})
    client = AsyncOAuth2Client("backend", service_key, token_endpoint_auth_method=method,
                               transport=httpx.ASGITransport(app=app), base_url="http://localhost")
    client.register_client_auth_method(method)
    token = await client.fetch_token(TOKEN_URL, grant_type="client_credentials", scope="system/Observation.rs")
    assert token["scope"] == "system/Observation.rs"
    assert (await client.get("/fhir/Observation/o1")).status_code == 200
    assert (await client.get("/fhir/Patient/p1")).status_code == 403
    await client.aclose()


@pytest.mark.parametrize("alg", ["RS256", "RS512", "PS384"])
async def test_other_algorithms_are_refused(http, service_key, alg):
    response = await token_request(http, assertion(service_key, "backend", TOKEN_URL, alg=alg))
    assert response.status_code == 400 and response.json()["error"] == "invalid_client"


async def test_a_jti_is_used_once(http, service_key):
    first = await token_request(http, assertion(service_key, "backend", TOKEN_URL, jti="once"))
    assert first.status_code == 200
    replay = await token_request(http, assertion(service_key, "backend", TOKEN_URL, jti="once"))
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_client"


@pytest.mark.parametrize("claims", [
    {"lifetime": 360},            # exp more than five minutes ahead
    {"lifetime": -60},            # expired
    {"aud": "http://localhost/fhir"},
    {"iss": "someone-else"},
    {"jti": ""},
    {"sub": "nobody"},
    {"omit": ("jti",)},
    {"omit": ("exp",)},
    {"omit": ("iss",)},
])
async def test_bad_assertions_are_invalid_client(http, service_key, claims):
    claims = dict(claims)
    kwargs = {k: claims.pop(k) for k in ("lifetime", "jti", "omit") if k in claims}
    audience = claims.pop("aud", TOKEN_URL)
    client_id = claims.pop("sub", "backend")
    response = await token_request(http, assertion(service_key, client_id, audience, **kwargs, **claims))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client"


async def test_exactly_five_minutes_is_accepted(http, service_key):
    assert (await token_request(http, assertion(service_key, "backend", TOKEN_URL, lifetime=300))).status_code == 200


async def test_signed_with_another_key(http, service_key):
    other, _ = rsa_key("k1")
    response = await token_request(http, assertion(other, "backend", TOKEN_URL))
    assert response.status_code == 400 and response.json()["error"] == "invalid_client"


@pytest.mark.parametrize("assertion_type", ["urn:ietf:params:oauth:client-assertion-type:saml2-bearer", "", "jwt"])
async def test_bad_client_assertion_type(http, service_key, assertion_type):
    response = await token_request(http, assertion(service_key, "backend", TOKEN_URL), assertion_type=assertion_type)
    assert response.status_code == 400 and response.json()["error"] == "invalid_client"


async def test_missing_assertion(http, service_key):
    response = await http.post("/auth/token", data={"grant_type": "client_credentials", "scope": "system/*.rs"})
    assert response.status_code == 400 and response.json()["error"] == "invalid_client"
    response = await http.post("/auth/token", data={"grant_type": "client_credentials", "scope": "system/*.rs",
                                                    "client_assertion_type": ASSERTION_TYPE})
    assert response.status_code == 400 and response.json()["error"] == "invalid_client"


@pytest.mark.parametrize("grant_type", ["client_credential", "", "urn:ietf:params:oauth:grant-type:jwt-bearer",
                                        "password"])
async def test_bad_grant_type(http, service_key, grant_type):
    response = await token_request(http, assertion(service_key, "backend", TOKEN_URL), grant_type=grant_type)
    assert response.status_code == 400 and response.json()["error"] == "unsupported_grant_type"


@pytest.mark.parametrize("scope", [None, "", "system/*.cruds", "system/Patient.c", "user/*.rs", "patient/*.rs",
                                   "openid", "system/Bogus.rs"])
async def test_scopes_must_be_system_and_registered(http, service_key, scope):
    response = await token_request(http, assertion(service_key, "backend", TOKEN_URL), scope=scope)
    assert response.status_code == 400 and response.json()["error"] == "invalid_scope"


async def test_granular_and_narrower_system_scopes(http, service_key):
    for scope in ("system/Observation.rs", "system/Observation.c", "system/Patient.r system/Observation.cud",
                  "system/Observation.rs?category=laboratory", "system/*.read"):
        response = await token_request(http, assertion(service_key, "backend", TOKEN_URL), scope=scope)
        assert response.status_code == 200, (scope, response.text)


class _Jwks:
    """A JWKS URL on loopback (what a backend service publishes), whose keys the test can change."""

    def __init__(self) -> None:
        self.jwks: dict = {"keys": []}
        self.fetches = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                owner.fetches += 1
                body = json.dumps(owner.jwks).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def jwks_server() -> Iterator[_Jwks]:
    server = _Jwks()
    try:
        yield server
    finally:
        server.close()


async def test_jwks_url_is_fetched_and_refetched_for_a_new_kid(http, auth, jwks_server):
    first, jwks = rsa_key("2026-01")
    jwks_server.jwks = jwks
    await add_backend(auth, "by-url", jwks_uri=jwks_server.url)
    assert (await token_request(http, assertion(first, "by-url", TOKEN_URL))).status_code == 200
    assert (await token_request(http, assertion(first, "by-url", TOKEN_URL))).status_code == 200
    assert jwks_server.fetches == 1
    # the client rotates its key; the next fetch is allowed after the minimum interval
    second, new_jwks = rsa_key("2026-02")
    jwks_server.jwks = {"keys": jwks["keys"] + new_jwks["keys"]}
    fetcher = auth.server._client_auth._methods["private_key_jwt"].fetcher
    fetcher.min_refetch = 0
    assert (await token_request(http, assertion(second, "by-url", TOKEN_URL))).status_code == 200
    assert jwks_server.fetches == 2


async def test_unreachable_jwks_url(http, auth):
    private, _ = rsa_key()
    await add_backend(auth, "lost", jwks_uri="http://127.0.0.1:9/jwks.json")
    response = await token_request(http, assertion(private, "lost", TOKEN_URL))
    assert response.status_code == 400 and response.json()["error"] == "invalid_client"


async def test_removed_client_loses_its_tokens(http, auth, service_key):
    token = (await token_request(http, assertion(service_key, "backend", TOKEN_URL))).json()
    headers = {"authorization": f"Bearer {token['access_token']}"}
    assert (await http.get("/fhir/Observation/o1", headers=headers)).status_code == 200
    await auth.clients.remove("backend")
    assert (await http.get("/fhir/Observation/o1", headers=headers)).status_code == 401
    response = await token_request(http, assertion(service_key, "backend", TOKEN_URL))
    assert response.status_code == 400 and response.json()["error"] == "invalid_client"


async def test_backend_tokens_are_audited(http, service_key, audit_log):
    await token_request(http, assertion(service_key, "backend", TOKEN_URL))
    event = audit_log[-1]
    assert event["subtype"][0]["code"] == "client_credentials" and event["outcome"] == "0"
    assert event["agent"][0]["who"]["identifier"]["value"] == "backend"
    assert event["agent"][0]["requestor"] is True
