"""Issuing tokens: the access token, the refresh token (only with offline_access or online_access),
the grant they belong to, and the SMART launch context of the token response.

| grant              | access token                     | refresh token                                    |
|--------------------|----------------------------------|--------------------------------------------------|
| authorization_code | access_token_lifetime (1 h)      | offline_access: 90 days; online_access: 12 hours  |
| refresh_token      | same                             | a new one (the old one is revoked), same expiry   |
|                    |                                  | rule; never past the original grant's scope       |
| client_credentials | at most 300 s                    | never                                            |

Trainees: nothing issued lives past the tenure end (`not_after`).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from fhir_server.auth.accounts import token_hash
from fhir_server.auth.models import Account, GrantRecord, RefreshRecord
from fhir_server.auth.ports import UnitOfWork
from fhir_server.auth.repositories import grants as grant_rows
from fhir_server.auth.roles import Role
from fhir_server.auth.settings import AuthSettings
from fhir_server.auth.tokens import AccessTokens, TokenClaims

__all__ = ["TokenIssuer", "IssueRequest", "Issued"]


@dataclass(frozen=True, slots=True)
class IssueRequest:
    client_id: str
    scope: str
    issuer: str
    audience: str
    style_url: str | None = None
    account: Account | None = None
    grant_id: str | None = None  # the grant's id (None: a new one is made up)
    continues_grant: bool = False  # a refresh: the grant exists already
    patient: str | None = None
    encounter: str | None = None
    need_patient_banner: bool = False
    auth_time: int | None = None
    refresh: bool = False  # the client may receive a refresh token
    refresh_expires_at: int | None = None  # a refresh keeps its family's expiry


@dataclass(frozen=True, slots=True)
class Issued:
    response: dict[str, Any]
    claims: TokenClaims
    refresh: RefreshRecord | None


class TokenIssuer:
    def __init__(self, uow: UnitOfWork, tokens: AccessTokens, settings: AuthSettings) -> None:
        self.uow = uow
        self.tokens = tokens
        self.settings = settings

    async def issue(self, request: IssueRequest) -> Issued:
        now = int(time.time())
        account = request.account
        scopes = request.scope.split()
        not_after = account.tenure_end_at if account is not None else None
        if account is None:
            role, lifetime = Role.SYSTEM.value, self.settings.backend_token_lifetime
        else:
            role, lifetime = account.role, self.settings.access_token_lifetime
        grant_id = request.grant_id or secrets.token_urlsafe(18)
        access_token, claims = self.tokens.issue(
            issuer=request.issuer, audience=request.audience, subject=account.account_id if account else request.client_id,
            role=role, scope=request.scope, client_id=request.client_id, sid=grant_id, lifetime=lifetime,
            fhir_user=account.fhir_user if account else None, patient=request.patient, encounter=request.encounter,
            not_after=not_after)
        response: dict[str, Any] = {"access_token": access_token, "token_type": "Bearer",
                                    "expires_in": max(claims.expires_at - now, 0), "scope": request.scope}
        refresh: RefreshRecord | None = None
        refresh_token: str | None = None
        wants_refresh = "offline_access" in scopes or "online_access" in scopes
        if account is not None and request.refresh and wants_refresh:
            refresh_token = secrets.token_urlsafe(32)
            expires_at = request.refresh_expires_at or now + (
                self.settings.offline_refresh_lifetime if "offline_access" in scopes
                else self.settings.online_refresh_lifetime)
            if not_after is not None:
                expires_at = min(expires_at, not_after)
            refresh = RefreshRecord(token_hash(refresh_token), grant_id, request.client_id, account.account_id,
                                    request.scope, request.auth_time or now, now, expires_at, request.patient,
                                    request.encounter, request.need_patient_banner)
            response["refresh_token"] = refresh_token
        async with self.uow.write() as tx:
            grant_expiry = max(claims.expires_at, refresh.expires_at if refresh else 0)
            if not request.continues_grant:
                await grant_rows.insert_grant(tx.db, GrantRecord(
                    grant_id, request.client_id, account.account_id if account else None, now, grant_expiry))
            else:
                await grant_rows.extend_grant(tx.db, grant_id, grant_expiry)
            if refresh is not None:
                await grant_rows.insert_refresh(tx.db, refresh)
        if request.patient:
            response["patient"] = request.patient
        if request.encounter:
            response["encounter"] = request.encounter
        if account is not None and (request.patient or request.encounter or "launch" in scopes):
            response["need_patient_banner"] = request.need_patient_banner
            if request.style_url:
                response["smart_style_url"] = request.style_url
        return Issued(response, claims, refresh)
