"""Token introspection (RFC 7662) and revocation (RFC 7009).

Introspection accepts client authentication (client_secret_basic, private_key_jwt) or a bearer
access token. A backend service (a client allowed client_credentials), an admin or a system token
may introspect any token; any other caller only the tokens issued to its own client. A token that is
unknown, expired, revoked, or whose user is disabled or past their tenure is `{"active": false}`.

Revocation accepts the same client authentication plus `none` (public clients name their client_id),
and only the client a token was issued to may revoke it. Revoking a refresh token revokes its grant:
the access tokens issued under it stop working too.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint

from fhir_server.auth.accounts import token_hash
from fhir_server.auth.oauth.grants import RefreshView
from fhir_server.auth.oauth.requests import SmartRequest
from fhir_server.auth.revocation import jti_key, sid_key
from fhir_server.auth.roles import Role
from fhir_server.auth.tokens import InvalidToken, TokenClaims

if TYPE_CHECKING:
    from fhir_server.auth.oauth.server import SmartAuthorizationServer

__all__ = ["SmartIntrospection", "SmartRevocation", "AccessView", "BearerCaller"]


class AccessView:
    """An access token as authlib's endpoints ask about it."""

    def __init__(self, claims: TokenClaims, server: SmartAuthorizationServer) -> None:
        self.claims = claims
        self.server = server

    def check_client(self, client: Any) -> bool:
        return bool(self.claims.client_id == client.get_client_id())

    def get_scope(self) -> str:
        return self.claims.scope

    def get_expires_in(self) -> int:
        return self.claims.expires_at - self.claims.issued_at

    def is_expired(self) -> bool:
        return self.claims.expires_at <= time.time()

    def is_revoked(self) -> bool:
        if self.server.tokens.revocations.is_revoked(jti_key(self.claims.jti), sid_key(self.claims.sid)):
            return True
        return self.claims.role != Role.SYSTEM and not _account_active(self.server, self.claims.subject)


class BearerCaller:
    """An introspection caller that sent a bearer access token instead of client credentials."""

    def __init__(self, claims: TokenClaims) -> None:
        self.claims = claims

    def get_client_id(self) -> str:
        return self.claims.client_id


def _account_active(server: SmartAuthorizationServer, account_id: str | None) -> bool:
    account = server.bridge.run(server.accounts.by_id, account_id) if account_id else None
    return account is not None and account.active(int(time.time()))


class _TokenLookup:
    server: SmartAuthorizationServer
    SUPPORTED_TOKEN_TYPES = ("access_token", "refresh_token")

    def query_token(self, token_string: str, token_type_hint: str | None) -> AccessView | RefreshView | None:
        if token_type_hint != "refresh_token" and token_string.count(".") == 2:
            try:
                return AccessView(self.server.tokens.decode(token_string), self.server)
            except InvalidToken:
                pass
        record = self.server.bridge.run(self.server.codes.get_refresh, token_hash(token_string))
        return None if record is None else RefreshView(record)


class SmartIntrospection(_TokenLookup, IntrospectionEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = ["client_secret_basic", "private_key_jwt"]

    def authenticate_endpoint_client(self, request: SmartRequest) -> Any:
        scheme, _, value = (request.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            try:
                claims = self.server.tokens.verify(value.strip(), audience=request.endpoints.fhir_base)
            except InvalidToken as exc:
                raise InvalidClientError(status_code=401, description="The bearer token is not valid.") from exc
            caller = BearerCaller(claims)
            request.client = caller
            return caller
        return super().authenticate_endpoint_client(request)

    def check_permission(self, token: AccessView | RefreshView, client: Any, request: SmartRequest) -> bool:
        if isinstance(client, BearerCaller):
            if client.claims.role in (Role.ADMIN, Role.SYSTEM):
                return True
        elif client.check_grant_type("client_credentials"):
            return True
        return bool(token.check_client(client))

    def introspect_token(self, token: AccessView | RefreshView) -> dict[str, Any]:
        if isinstance(token, RefreshView):
            record = token.record
            if not _account_active(self.server, record.account_id):
                return {"active": False}
            payload: dict[str, Any] = {"active": True, "token_type": "refresh_token", "scope": record.scope,
                                       "client_id": record.client_id, "sub": record.account_id,
                                       "exp": record.expires_at, "iat": record.issued_at}
            for name in ("patient", "encounter"):
                if getattr(record, name):
                    payload[name] = getattr(record, name)
            return payload
        claims = token.claims.to_json()
        claims.pop("sid", None)
        return {"active": True, "token_type": "Bearer", **claims}


class SmartRevocation(_TokenLookup, RevocationEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = ["client_secret_basic", "private_key_jwt", "none"]

    def revoke_token(self, token: AccessView | RefreshView, request: SmartRequest) -> None:
        revoker = self.server.revoker
        if isinstance(token, AccessView):
            self.server.bridge.run(_revoke_access, revoker, token.claims.jti, token.claims.expires_at)
        else:
            self.server.bridge.run(revoker.revoke_grant, token.record.grant_id)
        request.issued = {"revoked": token}


async def _revoke_access(revoker: Any, jti: str, expires_at: int) -> None:
    await revoker.revoke_access_token(jti, expires_at=expires_at)
