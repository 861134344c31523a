"""Access tokens: RS256-signed JWTs (RFC 9068 `at+jwt`) issued here and verified on every request.

A read must stay fast, so verification needs no database: the signature is checked with the public
key in memory (about 20 µs for RSA-2048), the claims are decoded once and the result is cached per
token string, so a token seen before costs a dictionary lookup plus its expiry and revocation checks.
Revocation is a lookup of the token's `jti` and grant `sid` in the in-memory set that Redis keeps in
step across processes (`revocation.py`).

Claims: iss, aud (the FHIR base URL), sub, iat, exp, jti, sid (the grant), client_id, scope, role,
and when present fhirUser (a relative reference), patient, encounter, tenure_end (trainees: exp
never passes it, and it is checked again here).

    authenticate = BearerAuthenticator(tokens, base_url=settings.base_url)
    principal = await authenticate(request)      # Unauthorized (401) with a WWW-Authenticate header
"""

from __future__ import annotations

import base64
import binascii
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

import orjson

from fhir_server.auth.keys import ALG, SigningKeys, b64url
from fhir_server.auth.revocation import Revocations, jti_key, sid_key
from fhir_server.context import Principal
from fhir_server.errors import Unauthorized

__all__ = ["AccessTokens", "TokenClaims", "InvalidToken", "BearerAuthenticator", "HttpRequest", "TOKEN_TYPE"]

TOKEN_TYPE = "at+jwt"
_CACHE_LIMIT = 50_000


class InvalidToken(Exception):
    """Why a token is refused; `unknown_kid` when it may be signed by a key not loaded yet."""

    def __init__(self, reason: str, *, unknown_kid: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.unknown_kid = unknown_kid


@dataclass(frozen=True, slots=True)
class TokenClaims:
    issuer: str
    audience: str
    subject: str
    role: str
    scope: str
    client_id: str
    jti: str
    sid: str
    issued_at: int
    expires_at: int
    fhir_user: str | None = None
    patient: str | None = None
    encounter: str | None = None
    tenure_end: int | None = None

    def principal(self) -> Principal:
        return _principal_of(self)

    def _principal(self) -> Principal:
        return Principal(subject=self.subject, role=self.role, scopes=frozenset(self.scope.split()),
                         client_id=self.client_id, fhir_user=self.fhir_user, patient=self.patient,
                         encounter=self.encounter)

    def to_json(self) -> dict[str, Any]:
        claims: dict[str, Any] = {"iss": self.issuer, "aud": self.audience, "sub": self.subject, "iat": self.issued_at,
                                  "exp": self.expires_at, "jti": self.jti, "sid": self.sid,
                                  "client_id": self.client_id, "scope": self.scope, "role": self.role}
        for name, value in (("fhirUser", self.fhir_user), ("patient", self.patient), ("encounter", self.encounter),
                            ("tenure_end", self.tenure_end)):
            if value is not None:
                claims[name] = value
        return claims

    @classmethod
    def from_json(cls, claims: Mapping[str, Any]) -> TokenClaims:
        try:
            return cls(str(claims["iss"]), str(claims["aud"]), str(claims["sub"]), str(claims["role"]),
                       str(claims["scope"]), str(claims["client_id"]), str(claims["jti"]), str(claims["sid"]),
                       int(claims["iat"]), int(claims["exp"]), claims.get("fhirUser"), claims.get("patient"),
                       claims.get("encounter"), claims.get("tenure_end"))
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidToken("the token lacks required claims") from exc


@lru_cache(maxsize=4096)
def _principal_of(claims: TokenClaims) -> Principal:
    """One Principal per token (tokens are reused for many requests)."""
    return claims._principal()


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


class AccessTokens:
    def __init__(self, keys: SigningKeys, revocations: Revocations) -> None:
        self.keys = keys
        self.revocations = revocations
        self._cache: dict[str, TokenClaims] = {}
        self._headers: dict[str, tuple[str, str]] = {}

    def issue(self, *, issuer: str, audience: str, subject: str, role: str, scope: str, client_id: str, sid: str,
              lifetime: int, fhir_user: str | None = None, patient: str | None = None, encounter: str | None = None,
              not_after: int | None = None) -> tuple[str, TokenClaims]:
        """A signed access token; it expires after `lifetime` seconds, or at `not_after` if sooner."""
        now = int(time.time())
        expires_at = now + lifetime if not_after is None else min(now + lifetime, not_after)
        claims = TokenClaims(issuer, audience, subject, role, scope, client_id, secrets.token_urlsafe(16), sid, now,
                             expires_at, fhir_user, patient, encounter, not_after)
        kid = self.keys.active.kid
        header = b64url(orjson.dumps({"alg": ALG, "typ": TOKEN_TYPE, "kid": kid}))
        signing_input = f"{header}.{b64url(orjson.dumps(claims.to_json()))}".encode()
        _, signature = self.keys.sign(signing_input)
        return f"{signing_input.decode()}.{b64url(signature)}", claims

    def _header(self, part: str) -> tuple[str, str]:
        known = self._headers.get(part)
        if known is not None:
            return known
        try:
            header = orjson.loads(_b64decode(part))
        except (ValueError, binascii.Error, orjson.JSONDecodeError) as exc:
            raise InvalidToken("the token is not a JWT") from exc
        if not isinstance(header, dict) or header.get("alg") != ALG or header.get("typ") != TOKEN_TYPE:
            raise InvalidToken("the token is not an access token of this server")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise InvalidToken("the token names no key")
        if len(self._headers) < 64:
            self._headers[part] = (kid, ALG)
        return kid, ALG

    def decode(self, token: str) -> TokenClaims:
        """The claims of a token signed by this server (signature checked; expiry and revocation not)."""
        cached = self._cache.get(token)
        if cached is not None:
            return cached
        parts = token.split(".")
        if len(parts) != 3:
            raise InvalidToken("the token is not a JWT")
        header, payload, signature = parts
        kid, _ = self._header(header)
        if not self.keys.knows(kid):
            raise InvalidToken("the token is signed by an unknown key", unknown_kid=kid)
        try:
            raw_signature = _b64decode(signature)
            claims_json = orjson.loads(_b64decode(payload))
        except (ValueError, binascii.Error, orjson.JSONDecodeError) as exc:
            raise InvalidToken("the token is not a JWT") from exc
        if not self.keys.verify(kid, f"{header}.{payload}".encode(), raw_signature):
            raise InvalidToken("the token's signature is not valid")
        if not isinstance(claims_json, dict):
            raise InvalidToken("the token's claims are not an object")
        claims = TokenClaims.from_json(claims_json)
        if len(self._cache) >= _CACHE_LIMIT:
            now = time.time()
            self._cache = {t: c for t, c in self._cache.items() if c.expires_at > now}
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
        self._cache[token] = claims
        return claims

    def check(self, claims: TokenClaims, *, audience: str | None = None) -> None:
        """InvalidToken when the token has expired, been revoked, or is for another audience."""
        now = time.time()
        if claims.expires_at <= now:
            raise InvalidToken("the token has expired")
        if claims.tenure_end is not None and claims.tenure_end <= now:
            raise InvalidToken("the user's tenure has ended")
        if audience is not None and claims.audience != audience:
            raise InvalidToken("the token was issued for another FHIR server")
        if self.revocations.is_revoked(jti_key(claims.jti), sid_key(claims.sid)):
            raise InvalidToken("the token has been revoked")

    def verify(self, token: str, *, audience: str | None = None) -> TokenClaims:
        claims = self.decode(token)
        self.check(claims, audience=audience)
        return claims

    async def verify_async(self, token: str, *, audience: str | None = None) -> TokenClaims:
        """`verify`, reloading the signing keys once if the token names a key not loaded here."""
        try:
            return self.verify(token, audience=audience)
        except InvalidToken as exc:
            if exc.unknown_kid is None or not await self.keys.reload_for(exc.unknown_kid):
                raise
        return self.verify(token, audience=audience)


class _Url(Protocol):
    @property
    def scheme(self) -> str: ...

    @property
    def netloc(self) -> str: ...


class HttpRequest(Protocol):
    """The part of an HTTP request authentication reads (Starlette's Request has it)."""

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def url(self) -> _Url: ...


def bearer_token(headers: Mapping[str, str]) -> str | None:
    value = headers.get("authorization")
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("the Authorization header must be 'Bearer <token>'",
                           headers={"www-authenticate": 'Bearer realm="fhir", error="invalid_request"'})
    return token.strip()


class BearerAuthenticator:
    """The `authenticate(request) -> Principal` of the HTTP layer. `dev_principal`: what a request
    without a token gets in dev mode (a token, when sent, is still verified)."""

    def __init__(self, tokens: AccessTokens, *, base_url: str = "", dev_principal: Principal | None = None) -> None:
        self.tokens = tokens
        self.base_url = base_url.rstrip("/")
        self.dev_principal = dev_principal

    def audience(self, request: HttpRequest) -> str:
        return self.base_url or f"{request.url.scheme}://{request.url.netloc}/fhir"

    async def claims(self, request: HttpRequest) -> TokenClaims | None:
        token = bearer_token(request.headers)
        if token is None:
            return None
        try:
            return await self.tokens.verify_async(token, audience=self.audience(request))
        except InvalidToken as exc:
            description = exc.reason.replace('"', "'")
            raise Unauthorized(exc.reason, headers={
                "www-authenticate": f'Bearer realm="fhir", error="invalid_token", error_description="{description}"'
            }) from exc

    async def __call__(self, request: HttpRequest) -> Principal:
        claims = await self.claims(request)
        if claims is not None:
            return claims.principal()
        if self.dev_principal is not None:
            return self.dev_principal
        raise Unauthorized("a bearer token is required", headers={"www-authenticate": 'Bearer realm="fhir"'})
