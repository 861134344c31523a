"""What the server tells SMART apps about itself: `/.well-known/smart-configuration`, OpenID discovery,
the CapabilityStatement's `rest.security`, and the styling an app may follow (`smart_style_url`).

https://hl7.org/fhir/smart-app-launch/conformance.html
"""

from __future__ import annotations

from typing import Any

from fhir_server.auth.oauth.assertions import ASSERTION_ALGORITHMS
from fhir_server.auth.oauth.requests import Endpoints

__all__ = ["smart_configuration", "openid_configuration", "security_block", "smart_style", "CAPABILITIES",
           "SCOPES_SUPPORTED"]

CAPABILITIES = [
    "launch-ehr", "launch-standalone", "authorize-post",
    "client-public", "client-confidential-symmetric", "client-confidential-asymmetric",
    "sso-openid-connect",
    "context-banner", "context-style",
    "context-ehr-patient", "context-ehr-encounter", "context-standalone-patient", "context-standalone-encounter",
    "permission-offline", "permission-online", "permission-patient", "permission-user", "permission-v1",
    "permission-v2",
]
SCOPES_SUPPORTED = [
    "openid", "fhirUser", "profile", "launch", "launch/patient", "launch/encounter", "offline_access",
    "online_access",
    "patient/*.cruds", "patient/*.rs", "user/*.cruds", "user/*.rs", "system/*.cruds", "system/*.rs",
    "patient/*.read", "patient/*.write", "patient/*.*", "user/*.read", "user/*.write", "user/*.*",
    "system/*.read", "system/*.write", "system/*.*",
]
GRANT_TYPES = ["authorization_code", "refresh_token", "client_credentials"]
AUTH_METHODS = ["client_secret_basic", "private_key_jwt", "none"]


def smart_configuration(endpoints: Endpoints) -> dict[str, Any]:
    return {
        "issuer": endpoints.issuer,
        "jwks_uri": endpoints.url("jwks"),
        "authorization_endpoint": endpoints.url("authorize"),
        "token_endpoint": endpoints.url("token"),
        "introspection_endpoint": endpoints.url("introspect"),
        "revocation_endpoint": endpoints.url("revoke"),
        "userinfo_endpoint": endpoints.url("userinfo"),
        "grant_types_supported": GRANT_TYPES,
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "token_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGORITHMS,
        "scopes_supported": SCOPES_SUPPORTED,
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "capabilities": CAPABILITIES,
    }


def openid_configuration(endpoints: Endpoints) -> dict[str, Any]:
    return {
        "issuer": endpoints.issuer,
        "authorization_endpoint": endpoints.url("authorize"),
        "token_endpoint": endpoints.url("token"),
        "userinfo_endpoint": endpoints.url("userinfo"),
        "jwks_uri": endpoints.url("jwks"),
        "introspection_endpoint": endpoints.url("introspect"),
        "revocation_endpoint": endpoints.url("revoke"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": GRANT_TYPES,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "token_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGORITHMS,
        "scopes_supported": SCOPES_SUPPORTED,
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "fhirUser",
                             "preferred_username"],
        "code_challenge_methods_supported": ["S256"],
        "request_parameter_supported": False,
    }


def security_block(endpoints: Endpoints) -> dict[str, Any]:
    """The CapabilityStatement `rest[0].security` of a SMART on FHIR server."""
    return {
        "cors": True,
        "service": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                 "code": "SMART-on-FHIR", "display": "SMART-on-FHIR"}],
                     "text": "OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)"}],
        "extension": [{
            "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
            "extension": [
                {"url": "authorize", "valueUri": endpoints.url("authorize")},
                {"url": "token", "valueUri": endpoints.url("token")},
                {"url": "introspect", "valueUri": endpoints.url("introspect")},
                {"url": "revoke", "valueUri": endpoints.url("revoke")},
            ],
        }],
    }


def smart_style() -> dict[str, Any]:
    """The look a launched app may follow to blend with the EHR (SMART `smart_style_url`)."""
    return {
        "color_background": "#f6f7f9",
        "color_error": "#b00020",
        "color_highlight": "#1f5fa8",
        "color_modal_backdrop": "",
        "color_success": "#2e7d32",
        "color_text": "#1b1f24",
        "dim_border_radius": "6px",
        "dim_font_size": "14px",
        "dim_spacing_size": "16px",
        "font_family_body": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
        "font_family_heading": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    }
