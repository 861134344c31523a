"""The three grants, as authlib grant classes with SMART's rules.

- `SmartAuthorizationCode`: SMART App Launch (EHR launch with `launch`, standalone launch). The
  authorization request must name this FHIR server as `aud` and carry PKCE S256; codes are single-use
  (a replayed code revokes every token of its grant), bound to the client, the redirect URI and the
  PKCE challenge, and live two minutes.
- `SmartRefreshToken`: rotates the refresh token (the old one is revoked; presenting a rotated one
  again revokes the grant), keeps it bound to its client, lets the scope narrow but never widen, and
  refuses users who are disabled or whose tenure is over.
- `SmartClientCredentials`: SMART Backend Services: private_key_jwt only, `system/` scopes within the
  client's registration, short access tokens and no refresh token.
"""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import (
    AuthorizationCodeMixin,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    TokenMixin,
)
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant, ClientCredentialsGrant, RefreshTokenGrant
from authlib.oauth2.rfc6749.hooks import hooked

from fhir_server.auth.accounts import token_hash
from fhir_server.auth.models import Account, CodeRecord, RefreshRecord
from fhir_server.auth.oauth.issuance import IssueRequest
from fhir_server.auth.oauth.pkce import RejectedRequest
from fhir_server.auth.oauth.requests import SmartRequest
from fhir_server.auth.scopes import ClinicalScope, InvalidScope, parse_scope, scope_allowed

if TYPE_CHECKING:
    from fhir_server.auth.oauth.server import SmartAuthorizationServer

__all__ = ["SmartAuthorizationCode", "SmartRefreshToken", "SmartClientCredentials", "SmartLaunchChecks",
           "CodeView", "RefreshView"]

CLIENT_AUTH_METHODS = ["client_secret_basic", "private_key_jwt", "none"]


class CodeView(AuthorizationCodeMixin):  # type: ignore[misc]
    def __init__(self, record: CodeRecord) -> None:
        self.record = record
        self.code_challenge = record.code_challenge
        self.code_challenge_method = record.code_challenge_method

    def get_redirect_uri(self) -> str:
        return self.record.redirect_uri

    def get_scope(self) -> str:
        return self.record.scope

    def get_nonce(self) -> str | None:
        return self.record.nonce

    def get_auth_time(self) -> int:
        return self.record.auth_time

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None


class RefreshView(TokenMixin):  # type: ignore[misc]
    def __init__(self, record: RefreshRecord) -> None:
        self.record = record

    def check_client(self, client: Any) -> bool:
        return bool(self.record.client_id == client.get_client_id())

    def get_scope(self) -> str:
        return self.record.scope

    def get_expires_in(self) -> int:
        return self.record.expires_at - self.record.issued_at

    def is_expired(self) -> bool:
        return self.record.expires_at <= time.time()

    def is_revoked(self) -> bool:
        return self.record.revoked


class _Issuing:
    server: SmartAuthorizationServer
    request: SmartRequest

    def _issue(self, issue: IssueRequest) -> dict[str, Any]:
        issued = self.server.bridge.run(self.server.issuer.issue, issue)
        self.request.issued = {"claims": issued.claims, "refresh": issued.refresh}
        return issued.response

    def _base(self) -> dict[str, Any]:
        endpoints = self.request.endpoints
        return {"client_id": self.request.client.get_client_id(), "issuer": endpoints.issuer,
                "audience": endpoints.fhir_base, "style_url": endpoints.url("smart-style.json")}

    def _active_account(self, account_id: str | None) -> Account:
        account = self.server.bridge.run(self.server.accounts.by_id, account_id) if account_id else None
        if account is None or not account.active(int(time.time())):
            raise InvalidGrantError("The user's account is disabled or their tenure has ended.")
        return account


class SmartLaunchChecks:
    """authlib grant extension: SMART's checks of an authorization request."""

    def __call__(self, grant: Any) -> None:
        grant.register_hook("after_validate_authorization_request_payload", self.validate)

    @staticmethod
    def validate(grant: Any, redirect_uri: str) -> None:
        request: SmartRequest = grant.request
        data = request.payload.data
        audience = (data.get("aud") or "").rstrip("/")
        if audience != request.endpoints.fhir_base:
            raise RejectedRequest(f"aud must be this FHIR server: {request.endpoints.fhir_base}")
        launch = data.get("launch")
        if launch is not None:
            # once the user has approved, the flow has consumed the launch context itself
            if request.decision is None and grant.server.bridge.run(grant.server.launches.get, launch) is None:
                raise InvalidRequestError("The launch context is unknown, used or expired.")
            if "launch" not in (request.scope or "").split():
                raise InvalidScopeError("An EHR launch must request the launch scope.")


class SmartAuthorizationCode(_Issuing, AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS
    AUTHORIZATION_CODE_LENGTH = 43

    def save_authorization_code(self, code: str, request: SmartRequest) -> None:
        decision = request.decision
        if decision is None:
            raise InvalidRequestError("No consent was given.")
        data = request.payload.data
        now = int(time.time())
        record = CodeRecord(
            code_hash=token_hash(code), grant_id=_new_grant_id(), client_id=request.client.get_client_id(),
            account_id=decision.account.account_id, redirect_uri=request.payload.redirect_uri,
            scope=decision.scope, code_challenge=data["code_challenge"],
            code_challenge_method=data["code_challenge_method"], auth_time=decision.auth_time,
            expires_at=now + self.server.settings.code_lifetime, nonce=data.get("nonce"),
            patient=decision.patient, encounter=decision.encounter,
            need_patient_banner=decision.need_patient_banner)
        self.server.bridge.run(self.server.codes.save_code, record)

    def query_authorization_code(self, code: str, client: Any) -> CodeView | None:
        record, replayed_grant = self.server.bridge.run(self.server.codes.consume_code, token_hash(code),
                                                        client.get_client_id())
        if replayed_grant is not None:
            self.server.bridge.run(self.server.revoker.revoke_grant, replayed_grant)
            raise InvalidGrantError("The authorization code was already used; its tokens are revoked.")
        return None if record is None else CodeView(record)

    def delete_authorization_code(self, authorization_code: CodeView) -> None:
        return None  # consumed when it was looked up

    def authenticate_user(self, authorization_code: CodeView) -> Account:
        return self._active_account(authorization_code.record.account_id)

    def generate_token(self, user: Account | None = None, scope: str | None = None, grant_type: str | None = None,
                       expires_in: int | None = None, include_refresh_token: bool = True) -> dict[str, Any]:
        code = self.request.authorization_code.record
        return self._issue(IssueRequest(
            **self._base(), scope=code.scope, account=user, patient=code.patient, encounter=code.encounter,
            need_patient_banner=code.need_patient_banner, auth_time=code.auth_time, refresh=include_refresh_token,
            grant_id=code.grant_id))


class SmartRefreshToken(_Issuing, RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshView | None:
        record = self.server.bridge.run(self.server.codes.get_refresh, token_hash(refresh_token))
        if record is None:
            return None
        if record.revoked:
            if record.rotated:  # a replaced token came back: it leaked, so end the whole grant
                self.server.bridge.run(self.server.revoker.revoke_grant, record.grant_id)
            return None
        if record.expires_at <= time.time():
            return None
        return RefreshView(record)

    def _validate_token_scope(self, token: RefreshView) -> None:
        requested = (self.request.payload.scope or "").split()
        original = [parse_scope(s) for s in token.get_scope().split()]
        for scope in requested:
            if not scope_allowed(scope, original):
                raise InvalidScopeError("A refresh may narrow the scope, never widen it.")

    def authenticate_user(self, refresh_token: RefreshView) -> Account:
        return self._active_account(refresh_token.record.account_id)

    @hooked  # type: ignore[untyped-decorator]
    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        view: RefreshView = self.request.refresh_token
        user = self.authenticate_user(view)
        if not self.server.bridge.run(self.server.codes.claim_refresh, view.record.token_hash):
            self.server.bridge.run(self.server.revoker.revoke_grant, view.record.grant_id)
            raise InvalidGrantError("The refresh token was already used.")
        self.request.user = user
        token = self.issue_token(user, view)
        return 200, token, self.TOKEN_RESPONSE_HEADER

    def issue_token(self, user: Account, refresh_token: RefreshView) -> dict[str, Any]:
        record = refresh_token.record
        scope = " ".join((self.request.payload.scope or "").split()) or record.scope
        return self._issue(IssueRequest(
            **self._base(), scope=scope, account=user, patient=record.patient, encounter=record.encounter,
            need_patient_banner=record.need_patient_banner, auth_time=record.auth_time, refresh=True,
            grant_id=record.grant_id, continues_grant=True, refresh_expires_at=record.expires_at))

    def revoke_old_credential(self, refresh_token: RefreshView) -> None:
        return None  # claimed before the new token was issued


class SmartClientCredentials(_Issuing, ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["private_key_jwt"]

    def validate_token_request(self) -> None:
        super().validate_token_request()
        requested = (self.request.payload.scope or "").split()
        if not requested:
            raise InvalidScopeError("Backend services must request system/ scopes.")
        for text in requested:
            try:
                parsed = parse_scope(text)
            except InvalidScope as exc:
                raise InvalidScopeError(f"'{text}' is not a SMART scope.") from exc
            if not isinstance(parsed, ClinicalScope) or parsed.level != "system":
                raise InvalidScopeError("Backend services may request system/ scopes only.")
            if not self.request.client.allows_scope(text):
                raise InvalidScopeError(f"'{text}' is outside this client's registration.")

    def generate_token(self, user: Any = None, scope: str | None = None, grant_type: str | None = None,
                       expires_in: int | None = None, include_refresh_token: bool = False) -> dict[str, Any]:
        return self._issue(IssueRequest(**self._base(), scope=" ".join((scope or "").split())))


def _new_grant_id() -> str:
    return secrets.token_urlsafe(18)
