"""Discovery: /.well-known/smart-configuration, OpenID configuration, JWKS, the CapabilityStatement's
security block, the SMART style."""

from __future__ import annotations

from fhir_server.auth import Endpoints, security_block
from fhir_server.auth.discovery import CAPABILITIES
from resources import validate

ALL_CAPABILITIES = {
    "launch-ehr", "launch-standalone", "client-public", "client-confidential-symmetric",
    "client-confidential-asymmetric", "sso-openid-connect", "context-ehr-patient", "context-ehr-encounter",
    "context-standalone-patient", "context-standalone-encounter", "permission-offline", "permission-online",
    "permission-patient", "permission-user", "permission-v1", "permission-v2", "context-banner", "context-style",
    "authorize-post",
}


async def test_smart_configuration_is_json_whatever_the_accept(http):
    for accept in ("application/fhir+json", "text/html", "application/xml", "*/*"):
        response = await http.get("/fhir/.well-known/smart-configuration", headers={"accept": accept})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/json")
    config = response.json()
    assert config["issuer"] == "http://localhost/fhir"
    for key in ("jwks_uri", "authorization_endpoint", "token_endpoint", "introspection_endpoint",
                "revocation_endpoint"):
        assert config[key].startswith("http://localhost/auth/"), key
    assert {"private_key_jwt", "client_secret_basic"} <= set(config["token_endpoint_auth_methods_supported"])
    assert set(config["grant_types_supported"]) == {"authorization_code", "refresh_token", "client_credentials"}
    assert config["code_challenge_methods_supported"] == ["S256"]
    assert config["response_types_supported"] == ["code"]
    assert "launch/patient" in config["scopes_supported"]
    assert set(config["capabilities"]) == ALL_CAPABILITIES == set(CAPABILITIES)
    assert response.headers["access-control-allow-origin"] == "*"


async def test_openid_configuration_at_the_issuer(http):
    config = (await http.get("/fhir/.well-known/openid-configuration")).json()
    assert config["issuer"] == "http://localhost/fhir"
    assert config["id_token_signing_alg_values_supported"] == ["RS256"]
    assert config["jwks_uri"] == "http://localhost/auth/jwks"
    assert "fhirUser" in config["claims_supported"]


async def test_jwks_publishes_the_signing_key(http, auth):
    jwks = (await http.get("/auth/jwks")).json()
    assert [k["kid"] for k in jwks["keys"]] == [auth.keys.active.kid]
    key = jwks["keys"][0]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and "d" not in key


async def test_security_block_validates_inside_a_capability_statement():
    block = security_block(Endpoints("https://ehr.example.org/fhir"))
    statement = {"resourceType": "CapabilityStatement", "status": "active", "date": "2026-11-23",
                 "kind": "instance", "fhirVersion": "4.0.1", "format": ["json"],
                 "rest": [{"mode": "server", "security": block}]}
    assert [i for i in validate(statement) if i.severity == "error"] == []
    assert block["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"
    uris = {e["url"]: e["valueUri"] for e in block["extension"][0]["extension"]}
    assert uris["token"] == "https://ehr.example.org/auth/token"
    assert uris["authorize"] == "https://ehr.example.org/auth/authorize"


async def test_smart_style_is_served(http):
    style = (await http.get("/auth/smart-style.json")).json()
    assert style["color_background"].startswith("#")
