"""The OAuth 2.0 authorization server (authlib's `AuthorizationServer`) wired for SMART.

authlib is synchronous; its entry points run in a worker thread (`run_in_thread`) and return
`(status, body, headers)`, which the HTTP layer turns into a response. The grant, PKCE, OpenID,
client-assertion and endpoint classes next to this module hold the SMART rules.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import anyio.to_thread
from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import InvalidClientError, InvalidScopeError, OAuth2Error

from fhir_server.auth.accounts import AccountService
from fhir_server.auth.clients import Client, ClientService
from fhir_server.auth.keys import SigningKeys
from fhir_server.auth.launch import LaunchContexts
from fhir_server.auth.oauth.assertions import JwksFetcher, PrivateKeyJwt
from fhir_server.auth.oauth.endpoints import SmartIntrospection, SmartRevocation
from fhir_server.auth.oauth.grants import (
    SmartAuthorizationCode,
    SmartClientCredentials,
    SmartLaunchChecks,
    SmartRefreshToken,
)
from fhir_server.auth.oauth.issuance import TokenIssuer
from fhir_server.auth.oauth.openid import SmartOpenIDCode
from fhir_server.auth.oauth.pkce import SmartPkce
from fhir_server.auth.oauth.requests import Bridge, SmartRequest, current_request
from fhir_server.auth.oauth.store import GrantStore
from fhir_server.auth.replay import ReplayGuard
from fhir_server.auth.revoker import GrantRevoker
from fhir_server.auth.scopes import InvalidScope, parse_scope
from fhir_server.auth.settings import AuthSettings
from fhir_server.auth.tokens import AccessTokens

__all__ = ["SmartAuthorizationServer", "Result", "run_in_thread"]

T = TypeVar("T")
Result = tuple[int, Any, list[tuple[str, str]]]


async def run_in_thread(function: Callable[..., T], *args: Any) -> T:
    return await anyio.to_thread.run_sync(functools.partial(function, *args))


class SmartAuthorizationServer(AuthorizationServer):  # type: ignore[misc]
    def __init__(self, *, settings: AuthSettings, clients: ClientService, accounts: AccountService,
                 launches: LaunchContexts, codes: GrantStore, issuer: TokenIssuer, tokens: AccessTokens,
                 keys: SigningKeys, revoker: GrantRevoker, replay: ReplayGuard,
                 jwks_fetcher: JwksFetcher | None = None) -> None:
        super().__init__()
        self.settings = settings
        self.clients = clients
        self.accounts = accounts
        self.launches = launches
        self.codes = codes
        self.issuer = issuer
        self.tokens = tokens
        self.keys = keys
        self.revoker = revoker
        self.bridge = Bridge()
        self.register_client_auth_method("private_key_jwt", PrivateKeyJwt(
            bridge=self.bridge, replay=replay, fetcher=jwks_fetcher or JwksFetcher(), leeway=settings.clock_leeway,
            max_lifetime=settings.assertion_max_lifetime))
        self.register_grant(SmartAuthorizationCode, [SmartPkce(), SmartOpenIDCode(keys), SmartLaunchChecks()])
        self.register_grant(SmartRefreshToken)
        self.register_grant(SmartClientCredentials)
        self.register_endpoint(SmartIntrospection)
        self.register_endpoint(SmartRevocation)

    # -- authlib's framework hooks -------------------------------------------------------------

    def query_client(self, client_id: str) -> Client | None:
        record = self.bridge.run(self.clients.get, client_id) if client_id else None
        if record is None or record.disabled:
            return None
        return Client(record, self.clients.passwords)

    def save_token(self, token: dict[str, Any], request: SmartRequest) -> None:
        return None  # the TokenIssuer stored what needs storing (grant, refresh token)

    def create_oauth2_request(self, request: SmartRequest) -> SmartRequest:
        return request

    def create_json_request(self, request: Any) -> Any:
        raise NotImplementedError("no JSON endpoints")

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> Result:
        return status, body, list(headers)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None

    def validate_requested_scope(self, scope: str | None) -> None:
        """A malformed SMART scope is an error; other unknown scopes are simply not granted."""
        for text in (scope or "").split():
            if not text.startswith(("patient/", "user/", "system/")):
                continue
            try:
                parse_scope(text)
            except InvalidScope as exc:
                raise InvalidScopeError(f"'{text}' is not a valid SMART scope.") from exc

    def authenticate_client(self, request: SmartRequest, methods: list[str], endpoint: str = "token") -> Any:
        try:
            return super().authenticate_client(request, methods, endpoint)
        except InvalidClientError as error:
            # RFC 6749 5.2: 401 only when the client tried HTTP authentication
            sent_basic = (request.headers.get("Authorization") or "").lower().startswith("basic ")
            error.status_code = 401 if sent_basic else 400
            raise

    # -- entry points (call through run_in_thread) --------------------------------------------

    def token_response(self, request: SmartRequest) -> Result:
        current_request.set(request)
        result: Result = self.create_token_response(request)
        return result

    def endpoint_response(self, name: str, request: SmartRequest) -> Result:
        current_request.set(request)
        result: Result = self.create_endpoint_response(name, request)
        return result

    def check_authorization(self, request: SmartRequest, account: Any = None) -> SmartAuthorizationCode:
        """Validate an authorization request (OAuth2Error when it is not acceptable)."""
        current_request.set(request)
        grant: SmartAuthorizationCode = self.get_consent_grant(request, end_user=account)
        return grant

    def authorization_response(self, request: SmartRequest) -> Result:
        """Issue the code for a request whose `decision` is set (the user approved)."""
        current_request.set(request)
        decision = request.decision
        try:
            grant = self.get_consent_grant(request, end_user=decision.account if decision else None)
        except OAuth2Error as error:
            refused: Result = self.handle_error_response(request, error)
            return refused
        result: Result = self.create_authorization_response(request, grant_user=decision.account if decision else None,
                                                            grant=grant)
        return result
