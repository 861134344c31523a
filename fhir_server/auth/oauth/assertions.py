"""`private_key_jwt` client authentication (RFC 7523 as SMART Backend Services profiles it).

The client signs a JWT with its private key: `iss` = `sub` = its client id, `aud` = the token
endpoint, `exp` at most five minutes ahead, a `jti` never used before; RS384 or ES384. The server
verifies it with the client's registered JWKS, or the JWKS fetched from its registered URL (cached,
fetched again when a `kid` is not found). A `jti` is remembered until the assertion expires (Redis
when configured) so an assertion cannot be replayed.
"""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from fhir_server.auth.oauth.requests import Bridge, current_request
from fhir_server.auth.replay import ReplayGuard

__all__ = ["PrivateKeyJwt", "JwksFetcher", "ASSERTION_ALGORITHMS"]

ASSERTION_ALGORITHMS = ["RS384", "ES384"]


class JwksFetcher:
    """Fetches a client's JWKS from its URL (in authlib's worker thread), caching it for a while."""

    def __init__(self, *, ttl: float = 300, min_refetch: float = 30, timeout: float = 5,
                 max_bytes: int = 256 * 1024) -> None:
        self.ttl, self.min_refetch, self.timeout, self.max_bytes = ttl, min_refetch, timeout, max_bytes
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}

    def get(self, url: str, *, kid: str | None = None) -> dict[str, Any]:
        now = time.monotonic()
        cached = self._cache.get(url)
        if cached is not None:
            fetched_at, jwks = cached
            fresh = now - fetched_at < self.ttl
            has_kid = kid is None or any(k.get("kid") == kid for k in jwks.get("keys", []))
            if (fresh and has_kid) or now - fetched_at < self.min_refetch:
                return jwks
        jwks = self._fetch(url)
        self._cache[url] = (now, jwks)
        return jwks

    def _fetch(self, url: str) -> dict[str, Any]:
        try:
            request = urllib.request.Request(url, headers={"accept": "application/json"})
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - registered URL
                body = response.read(self.max_bytes + 1)
        except OSError as exc:
            raise InvalidClientError(description="The client's JWKS URL could not be fetched.") from exc
        if len(body) > self.max_bytes:
            raise InvalidClientError(description="The client's JWKS is too large.")
        try:
            jwks = json.loads(body)
        except ValueError as exc:
            raise InvalidClientError(description="The client's JWKS URL does not serve JSON.") from exc
        if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
            raise InvalidClientError(description="The client's JWKS URL does not serve a JWK Set.")
        return jwks


class PrivateKeyJwt(JWTBearerClientAssertion):  # type: ignore[misc]
    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(self, *, bridge: Bridge, replay: ReplayGuard, fetcher: JwksFetcher, leeway: int,
                 max_lifetime: int) -> None:
        super().__init__(validate_jti=True, leeway=leeway)
        self.bridge = bridge
        self.replay = replay
        self.fetcher = fetcher
        self.max_lifetime = max_lifetime

    def get_audiences(self) -> list[str]:
        request = current_request.get()
        if request is None:
            raise InvalidClientError(description="No token endpoint to check the assertion's audience against.")
        return [request.endpoints.token]

    def extract_assertion(self, assertion: str) -> tuple[dict[str, Any], dict[str, Any]]:
        headers, claims = super().extract_assertion(assertion)
        if headers.get("alg") not in ASSERTION_ALGORITHMS:
            raise InvalidClientError(description="Client assertions must be signed with RS384 or ES384.")
        request = current_request.get()
        if request is not None:
            request.assertion_header = headers
        return headers, claims

    def process_assertion_claims(self, assertion: str, resolve_key: Any) -> dict[str, Any]:
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=ASSERTION_ALGORITHMS)
        except JoseError as exc:
            raise InvalidClientError(description="The client assertion's signature is not valid.") from exc
        claims = token.claims
        exp = claims.get("exp")
        if not isinstance(exp, int | float):
            raise InvalidClientError(description="The client assertion has no exp.")
        if exp > time.time() + self.max_lifetime + self.leeway:
            raise InvalidClientError(description="The client assertion's exp is more than five minutes ahead.")
        self.verify_claims(claims)
        return claims

    def validate_jti(self, claims: dict[str, Any], jti: Any) -> bool:
        if not isinstance(jti, str) or not jti:
            return False
        until = int(claims["exp"]) + self.leeway
        return bool(self.bridge.run(_first_use, self.replay, f"{claims['iss']}:{jti}", until))

    def resolve_client_public_key(self, client: Any) -> KeySet:
        record = client.record
        try:
            if record.jwks:
                return KeySet.import_key_set(json.loads(record.jwks))
            if record.jwks_uri:
                return KeySet.import_key_set(self.fetcher.get(record.jwks_uri, kid=_assertion_kid()))  # type: ignore[arg-type]
        except (JoseError, ValueError) as exc:
            raise InvalidClientError(description="The client's registered keys cannot be used.") from exc
        raise InvalidClientError(description="The client has no registered keys.")


async def _first_use(replay: ReplayGuard, key: str, until: int) -> bool:
    return await replay.first_use(key, until=until)



def _assertion_kid() -> str | None:
    request = current_request.get()
    kid = request.assertion_header.get("kid") if request is not None else None
    return kid if isinstance(kid, str) else None
