"""ID tokens (OpenID Connect) for `openid` requests: RS256 with the server key's `kid`, `sub` the
account id, and with `fhirUser` asked for, the absolute URL of the user's FHIR resource."""

from __future__ import annotations

import time
from typing import Any

from authlib.oidc.core import OpenIDCode
from authlib.oidc.core.util import create_half_hash
from joserfc import jwt

from fhir_server.auth.keys import ALG, SigningKeys
from fhir_server.auth.oauth.requests import SmartRequest

__all__ = ["SmartOpenIDCode", "ID_TOKEN_LIFETIME"]

ID_TOKEN_LIFETIME = 3600


class SmartOpenIDCode(OpenIDCode):  # type: ignore[misc]
    def __init__(self, keys: SigningKeys) -> None:
        super().__init__(require_nonce=False)
        self.keys = keys

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        return False

    def resolve_client_private_key(self, client: Any) -> Any:
        return self.keys.private_jwk()

    def get_client_algorithm(self, client: Any) -> str:
        return ALG

    def generate_user_info(self, user: Any, scope: str) -> dict[str, Any]:
        return {"sub": user.account_id}

    def encode_id_token(self, token: dict[str, Any], request: SmartRequest) -> str:
        now = int(time.time())
        user = request.user
        claims: dict[str, Any] = {"iss": request.endpoints.issuer, "aud": request.client.get_client_id(),
                                  "iat": now, "exp": now + ID_TOKEN_LIFETIME, "auth_time": now}
        if request.authorization_code is not None:
            claims.update(self.get_authorization_code_claims(request.authorization_code))
        at_hash = create_half_hash(token["access_token"], ALG)
        if at_hash is not None:
            claims["at_hash"] = at_hash.decode()
        claims.update(self.generate_user_info(user, token["scope"]))
        scopes = token["scope"].split()
        if "fhirUser" in scopes and user.fhir_user:
            claims["fhirUser"] = f"{request.endpoints.fhir_base}/{user.fhir_user}"
        if "profile" in scopes:
            claims["preferred_username"] = user.username
        key = self.resolve_client_private_key(request.client)
        header = {"alg": ALG, "kid": self.keys.active.kid, "typ": "JWT"}
        return jwt.encode(header, claims, key, algorithms=[ALG])
